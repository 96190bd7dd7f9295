/* config internals, shared by the config_*.c files only: the loader and
 * its messages, the key table and typed readers (config_read.c), the raw
 * text checks (config_text.c), secrets (config_secret.c) and subscriptions
 * (config_sub.c). The public API stays in include/hsbridge/config.h. */
#ifndef HSBRIDGE_CONFIG_INT_H
#define HSBRIDGE_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <libconfig.h>

#include "hsbridge/config.h"

/* How much of a user-supplied value an error message repeats. */
#define ECHO_MAX 64

/* Every integer key: name, bounds, default. The subscription overrides reuse
 * the delivery rows so the two can never disagree. */
struct int_key {
	const char *name;
	long long min;
	long long max;
	long long def;
};

enum { I_HEARTBEAT, I_TIMEOUT, I_INFLIGHT, I_BODY, I_LIMIT, I_PARKED, I_FAILURES, I_RATE };

extern const struct int_key cfg_int_keys[];

/* One load in progress: the first error goes to err, the config being
 * filled is cfg. */
struct cfg_loader {
	const char *path;
	char *err;
	size_t errlen;
	struct cfg *cfg;
	/* Prepended to every message: "delivery." or "subscription \"x\": ". */
	char where[2 * CFG_NAME_MAX + 64];
	/* The file holding inline secrets was looked at (warned once). */
	bool inline_checked;
	/* CFG_NO_SECRETS: secret_file and secret_env are not read. */
	bool no_secrets;
};

/* ---- messages (config_read.c) ------------------------------------------- */

void cfg_set_where(struct cfg_loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Each writes "<path>:<line>: <where><message>" (or "<path>: …" when line
 * is 0 or at is NULL) into the loader's err and returns -1. */
int cfg_fail_at(struct cfg_loader *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cfg_fail(struct cfg_loader *ld, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cfg_oom(struct cfg_loader *ld);
/* Appends a warning to cfg->warnings: 0, or -1 when out of memory. */
int cfg_add_warning(struct cfg_loader *ld, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
unsigned cfg_line_of(const config_setting_t *s);
/* A user value repeated in a message: one line, printable, bounded. Only
 * ever called on values that are not secrets. Returns buf. */
const char *cfg_echo(const char *s, char buf[ECHO_MAX + 4]);
/* strdup into *dst, or an out-of-memory error. */
int cfg_dup(struct cfg_loader *ld, char **dst, const char *src);

/* ---- typed readers (config_read.c) -------------------------------------- */

int cfg_check_keys(struct cfg_loader *ld, const config_setting_t *group, const char *const *allowed,
		   const char *section);
int cfg_get_group(struct cfg_loader *ld, const config_setting_t *parent, const char *key,
		  const config_setting_t **out);
int cfg_get_string(struct cfg_loader *ld, const config_setting_t *group, const char *key,
		   const char **out, const config_setting_t **at);
int cfg_get_int(struct cfg_loader *ld, const config_setting_t *group, const struct int_key *k,
		long long *out);
int cfg_check_string_array(struct cfg_loader *ld, const config_setting_t *s, const char *key,
			   const char *what);
int cfg_copy_strv(struct cfg_loader *ld, const config_setting_t *s, char ***out, size_t *n_out);

/* ---- the raw file (config_text.c) --------------------------------------- */

/* Reads at most max bytes of path into a NUL-terminated buffer. Returns 0,
 * -1 with errno on an I/O error, or -2 when the file is larger than max. */
int cfg_slurp(const char *path, size_t max, char **out, size_t *outlen);
/* Refuses, before libconfig parses text, what libconfig would get wrong
 * quietly. Returns 0 or -1. */
int cfg_prescan(struct cfg_loader *ld, const char *text);

/* ---- secrets (config_secret.c) ------------------------------------------ */

/* One warning per load when the config file holds a secret (`what`) and
 * group or others can read it. Returns 0, or -1 when out of memory. */
int cfg_warn_if_inline_exposed(struct cfg_loader *ld, const config_setting_t *at, const char *what)
    __attribute__((warn_unused_result));
/* A secret from exactly one of <key>, <key>_file (relative to the config
 * file's folder, one line) or <key>_env in g. None set: 0 with *out and
 * *at NULL. Set: 0 with *out (NULL under CFG_NO_SECRETS for _file and _env)
 * and *at the member that was used; or -1 after an error naming file:line,
 * never the value. inline_what: the warning for an inline value in a file
 * others can read (NULL: none). */
int cfg_load_secret_from(struct cfg_loader *ld, const config_setting_t *g, const char *key,
			 const char *inline_what, char **out, const config_setting_t **at);
int cfg_load_secret(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub);
int cfg_load_previous(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub);
/* file relative to the config file's directory (absolute: as it is), so
 * the daemon's working directory does not matter. Caller frees; NULL when
 * out of memory. */
char *cfg_resolve_path(const char *config_path, const char *file);
/* Whether a file of this mode can be read by others than its owner. */
bool cfg_mode_exposed(unsigned mode);
/* A file holding a secret that group or others can read: a warning "WHAT
 * PATH is HOWreadable by group or others (mode 0644); chmod 600 it" (the
 * file was read, so the name is a file's, not a pasted secret). 0, or -1
 * when the warning cannot be kept. */
int cfg_warn_if_file_exposed(struct cfg_loader *ld, const config_setting_t *at, const char *what,
			     const char *how, const char *path);
/* "0644": the permission bits of mode, for a message. Returns buf. */
const char *cfg_mode_text(unsigned mode, char buf[8]);
/* Clears the secret strings inside libconfig's tree before it is destroyed. */
void cfg_scrub_tree(config_t *lc);

/* ---- Ed25519 signing keys (config_signing.c) ---------------------------- */

/* signing_key / signing_key_file / signing_key_env and
 * previous_signing_keys of a subscription. Returns 0 or -1. */
int cfg_load_signing(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub);

/* ---- custom headers (config_headers.c) ---------------------------------- */

/* The headers group of a subscription. Returns 0 or -1. */
int cfg_load_headers(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub);
/* Frees what cfg_load_headers put in sub, values wiped. */
void cfg_free_headers(struct cfg_sub *sub);
/* Clears the inline header values and signing keys in libconfig's tree
 * (cfg_scrub_tree's part for them). */
void cfg_scrub_sub_extras(const config_setting_t *sub);

/* ---- egress: certificates, proxy, rate, guard (config_egress.c) -------- */

/* The egress keys, allowed both in delivery and in a subscription. */
#define CFG_EGRESS_KEYS                                                                            \
	"proxy", "tls_ca_file", "tls_client_cert", "tls_client_key",                               \
	    "tls_client_key_password_file", "tls_client_key_password_env",                         \
	    "allow_private_addresses", "max_per_second"

/* Each egress key present in g (NULL: none) replaces its value in *inout;
 * a client certificate and key are then checked together (readable PEM,
 * the key opens with its password and belongs to the certificate). ld->where
 * names the group. Returns 0 or -1. */
int cfg_load_egress(struct cfg_loader *ld, const config_setting_t *g, struct cfg_egress *inout);
/* A deep copy of src (a subscription starts from the delivery group's). */
int cfg_egress_copy(struct cfg_loader *ld, struct cfg_egress *dst, const struct cfg_egress *src);
/* Frees the strings, the password wiped. */
void cfg_egress_free(struct cfg_egress *e);

/* ---- subscriptions (config_sub.c) --------------------------------------- */

int cfg_load_subs(struct cfg_loader *ld, const config_setting_t *root);

/* ---- the breaker group (config_breaker.c) -------------------------------- */

/* The built-in defaults of the breaker group. */
void cfg_breaker_defaults(struct breaker_conf *out);
/* A `breaker` group g (NULL: absent) over the values in *inout: each key
 * present replaces its value. ld->where must name the subscription, or be
 * "" for the top-level group. Returns 0 or -1. */
int cfg_load_breaker(struct cfg_loader *ld, const config_setting_t *g, struct breaker_conf *inout);

/* ---- the history group (config_history.c) -------------------------------- */

/* The `history` group g (NULL: absent: the defaults, enabled). */
int cfg_load_history(struct cfg_loader *ld, const config_setting_t *g);

/* ---- characters --------------------------------------------------------- */

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c);
}

static inline bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static inline bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

#endif
