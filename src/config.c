/* config: loads and validates the libconfig file of DESIGN section 5. */
#include "hsbridge/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libconfig.h>
#include <openssl/crypto.h>

#include "hsbridge/event.h"
#include "hsbridge/log.h"
#include "hsbridge/signature.h"
#include "hsbridge/url.h"

/* A config file is a few kilobytes; the cap keeps a wrong path (a log, a
 * device) from being slurped. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Secrets are tens of bytes; anything this large is the wrong file. */
#define SECRET_FILE_MAX (64 * 1024)
/* Retry delays name queues and sit in message TTLs; a day is already long. */
#define DURATION_MAX_MS (24L * 60 * 60 * 1000)
/* AMQP short strings hold 255 bytes. Queue names are built as
 * "<prefix>.<subscription>.<suffix>", so the prefix leaves room for the rest. */
#define EXCHANGE_MAX 255
#define PREFIX_MAX 127
/* How much of a user-supplied value an error message repeats. */
#define ECHO_MAX 64

#define DEFAULT_BROKER_URL "amqp://guest:guest@127.0.0.1:5672/%2f"
#define DEFAULT_EXCHANGE "healthsync.events"
#define DEFAULT_PREFIX "hsbridge"

static const char *const default_delays[] = {"1m", "5m", "30m", "1h"};

/* Every integer key: name, bounds, default. The subscription overrides reuse
 * the delivery rows so the two can never disagree. */
struct int_key {
	const char *name;
	long long min;
	long long max;
	long long def;
};

enum { I_HEARTBEAT, I_TIMEOUT, I_INFLIGHT, I_BODY, I_LIMIT };

static const struct int_key int_keys[] = {
    [I_HEARTBEAT] = {"heartbeat_s", 0, 3600, 30},
    [I_TIMEOUT] = {"timeout_ms", 1, 600000, 5000},
    [I_INFLIGHT] = {"max_in_flight", 1, 65535, 64},
    [I_BODY] = {"max_body_bytes", 1, 134217728, 1048576},
    [I_LIMIT] = {"delivery_limit", 1, 1000, 20},
};

/* The keys each group may hold; anything else is a typo and an error. */
static const char *const top_keys[] = {"broker", "delivery", "log", "subscriptions", NULL};
static const char *const broker_keys[] = {"url",     "exchange",       "prefix", "heartbeat_s",
					  "ca_file", "management_url", NULL};
static const char *const delivery_keys[] = {"timeout_ms",     "retry_delays",	"max_in_flight",
					    "max_body_bytes", "delivery_limit", NULL};
static const char *const log_keys[] = {"level", NULL};
static const char *const sub_keys[] = {"name",
				       "url",
				       "events",
				       "secret",
				       "secret_file",
				       "secret_env",
				       "previous_secrets",
				       "active",
				       "max_in_flight",
				       "timeout_ms",
				       NULL};

struct loader {
	const char *path;
	char *err;
	size_t errlen;
	struct cfg *cfg;
	/* Prepended to every message: "delivery." or "subscription \"x\": ". */
	char where[CFG_NAME_MAX + 32];
};

static void set_where(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail_at(struct loader *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_warning(struct loader *ld, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_where(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->where, sizeof(ld->where), fmt, ap);
	va_end(ap);
}

/* "<path>:<line>: <where><message>", or "<path>: …" when no line applies. */
static void vformat(const struct loader *ld, unsigned line, char *buf, size_t len, const char *fmt,
		    va_list ap) __attribute__((format(printf, 5, 0)));

static void vformat(const struct loader *ld, unsigned line, char *buf, size_t len, const char *fmt,
		    va_list ap)
{
	int n;

	if (len == 0)
		return;
	if (line > 0)
		n = snprintf(buf, len, "%s:%u: %s", ld->path, line, ld->where);
	else
		n = snprintf(buf, len, "%s: %s", ld->path, ld->where);
	if (n < 0 || (size_t)n >= len)
		return;
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
}

static int fail_at(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, line, ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static unsigned line_of(const config_setting_t *s)
{
	return s ? config_setting_source_line(s) : 0;
}

static int fail(struct loader *ld, const config_setting_t *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, line_of(at), ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int oom(struct loader *ld)
{
	set_where(ld, "%s", "");
	return fail_at(ld, 0, "out of memory");
}

static int add_warning(struct loader *ld, const config_setting_t *at, const char *fmt, ...)
{
	struct cfg *cfg = ld->cfg;
	char buf[512];
	char **grown;
	char *copy;
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, line_of(at), buf, sizeof(buf), fmt, ap);
	va_end(ap);
	copy = strdup(buf);
	if (!copy)
		return oom(ld);
	grown = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return oom(ld);
	}
	cfg->warnings = grown;
	cfg->warnings[cfg->n_warnings++] = copy;
	return 0;
}

/* A user value repeated in a message: one line, printable, bounded. Only
 * ever called on values that are not secrets. */
static const char *echo(const char *s, char buf[ECHO_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < ECHO_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
	}
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void scrub_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* ---- durations ---------------------------------------------------------- */

int cfg_parse_duration(const char *s, long *ms)
{
	static const struct {
		const char *unit;
		long ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end = NULL;
	long v;
	size_t i;

	/* strtol would take a sign and leading blanks; the grammar has neither. */
	if (!s || !ms || !is_digit(s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > DURATION_MAX_MS / units[i].ms)
				return -1;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

void cfg_format_duration(long ms, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	if (ms > 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%ldh", ms / 3600000);
	else if (ms > 0 && ms % 60000 == 0)
		snprintf(buf, len, "%ldm", ms / 60000);
	else if (ms > 0 && ms % 1000 == 0)
		snprintf(buf, len, "%lds", ms / 1000);
	else
		snprintf(buf, len, "%ldms", ms);
}

const struct cfg_sub *cfg_find_sub(const struct cfg *cfg, const char *name)
{
	size_t i;

	if (!cfg || !name)
		return NULL;
	for (i = 0; i < cfg->n_subs; i++) {
		if (cfg->subs[i].name && strcmp(cfg->subs[i].name, name) == 0)
			return &cfg->subs[i];
	}
	return NULL;
}

/* ---- freeing ------------------------------------------------------------ */

static void free_strv(char **v, size_t n, bool scrub)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++) {
		if (scrub)
			scrub_free(v[i]);
		else
			free(v[i]);
	}
	free(v);
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_subs; i++) {
		struct cfg_sub *sub = &cfg->subs[i];

		free(sub->name);
		free(sub->url);
		free_strv(sub->events, sub->n_events, false);
		scrub_free(sub->secret);
		free_strv(sub->previous_secrets, sub->n_previous, true);
	}
	free(cfg->subs);
	free_strv(cfg->warnings, cfg->n_warnings, false);
	free(cfg->path);
	/* The broker url carries the broker password. */
	scrub_free(cfg->broker_url);
	free(cfg->ca_file);
	free(cfg->management_url);
	free(cfg->exchange);
	free(cfg->prefix);
	free(cfg);
}

/* ---- reading files ------------------------------------------------------ */

/* Reads at most max bytes of path into a NUL-terminated buffer. Returns 0,
 * -1 with errno on an I/O error, or -2 when the file is larger than max. */
static int slurp(const char *path, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = -1;
	int rc = -1;
	int saved;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/* One byte past max to tell "exactly max" from "too large". */
	buf = malloc(max + 2);
	if (!buf) {
		errno = ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = -2;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	saved = errno;
	if (buf) {
		OPENSSL_cleanse(buf, max + 2);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

/* libconfig 1.5 silently truncates an integer literal that does not fit in
 * 32 bits (4294967297 reads back as 1, "L" literals likewise past 64), so
 * such a literal is an error before libconfig sees it. */
static int check_literal(struct loader *ld, unsigned line, const char *key, const char *tok,
			 size_t len)
{
	char buf[ECHO_MAX + 4];
	char num[80];
	bool hex, neg, wide;
	const char *digits;
	unsigned long long v;
	char *end = NULL;
	size_t i;

	digits = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
	hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
	for (i = 0; i < len; i++) {
		if (tok[i] == '.' || (!hex && (tok[i] == 'e' || tok[i] == 'E')))
			return 0; /* a float; libconfig reads it whole */
	}
	/* Eighty digits overflow anything; echo shows the start of them. */
	if (len >= sizeof(num))
		len = sizeof(num) - 1;
	memcpy(num, tok, len);
	num[len] = '\0';
	if (len == sizeof(num) - 1)
		return fail_at(ld, line, "%s: integer %s is out of range", key, echo(num, buf));
	neg = num[0] == '-';
	digits = neg || num[0] == '+' ? num + 1 : num;
	/* "L" asks for 64 bits; past that strtoull reports the overflow. */
	wide = num[len - 1] == 'L';

	errno = 0;
	v = strtoull(hex ? digits + 2 : digits, &end, hex ? 16 : 10);
	if (end == digits || (hex && end == digits + 2))
		return 0; /* not a number at all: libconfig's syntax error */
	if (wide) {
		while (*end == 'L')
			end++;
	}
	if (*end != '\0')
		return 0;
	if (errno == ERANGE || (wide && v > (unsigned long long)LLONG_MAX + (neg ? 1 : 0)) ||
	    (!wide && v > (unsigned long long)INT_MAX + (neg ? 1 : 0)))
		return fail_at(ld, line, "%s: integer %s is out of range", key, echo(num, buf));
	return 0;
}

/* Checks the raw text for what libconfig would get wrong quietly: oversized
 * integers, and @include, which pulls in files whose lines this loader would
 * misattribute. Strings and comments are skipped as libconfig's scanner does. */
static int prescan(struct loader *ld, const char *p)
{
	/* The setting a number belongs to, for the message. */
	char key[ECHO_MAX + 1] = "value";
	unsigned line = 1;

	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++) {
				if (*p == '\n')
					line++;
			}
			if (*p)
				p += 2;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (*p == '\n')
					line++;
			}
			if (*p)
				p++;
		} else if (starts_with(p, "@include")) {
			return fail_at(ld, line, "@include is not supported");
		} else if (is_alpha(*p) || *p == '*') {
			/* A setting name (or true/false): digits in it are no number. */
			const char *name = p;
			const char *next;

			while (is_alnum(*p) || *p == '_' || *p == '-' || *p == '*')
				p++;
			next = p + strspn(p, " \t\r\n");
			if ((*next == '=' || *next == ':') && (size_t)(p - name) < sizeof(key)) {
				memcpy(key, name, (size_t)(p - name));
				key[p - name] = '\0';
			}
		} else if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1]))) {
			const char *tok = p++;

			while (is_alnum(*p) || *p == '.' ||
			       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
			if (check_literal(ld, line, key, tok, (size_t)(p - tok)) != 0)
				return -1;
		} else {
			p++;
		}
	}
	return 0;
}

/* ---- typed getters ------------------------------------------------------ */

/* Every child of group must be named in allowed. section qualifies the key
 * in the message ("broker.url"); NULL at the top and in subscriptions, whose
 * prefix already says where. */
static int check_keys(struct loader *ld, const config_setting_t *group, const char *const *allowed,
		      const char *section)
{
	int n = config_setting_length(group);
	char list[256];
	size_t used = 0;
	int i;
	size_t k;

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		bool known = false;

		for (k = 0; allowed[k] && name; k++)
			known = known || strcmp(allowed[k], name) == 0;
		if (known)
			continue;
		list[0] = '\0';
		for (k = 0; allowed[k]; k++) {
			int w = snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "",
					 allowed[k]);

			if (w < 0 || (size_t)w >= sizeof(list) - used)
				break;
			used += (size_t)w;
		}
		if (section)
			set_where(ld, "%s", "");
		return fail(ld, s, "unknown key \"%s%s%s\" (expected one of: %s)",
			    section ? section : "", section ? "." : "", name ? name : "?", list);
	}
	return 0;
}

/* An optional group: *out is NULL when absent. */
static int get_group(struct loader *ld, const config_setting_t *parent, const char *key,
		     const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	*out = NULL;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(ld, s, "%s must be a group: %s = { ... };", key, key);
	*out = s;
	return 0;
}

/* An optional string: *out (borrowed from libconfig) keeps its default when
 * absent. */
static int get_string(struct loader *ld, const config_setting_t *group, const char *key,
		      const char **out, const config_setting_t **at)
{
	const config_setting_t *s = config_setting_get_member(group, key);

	if (at)
		*at = s;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(ld, s, "%s must be a string", key);
	*out = config_setting_get_string(s);
	return 0;
}

/* An optional integer within its row's bounds: *out keeps its value when
 * absent. Floats, strings and booleans are errors, not conversions. */
static int get_int(struct loader *ld, const config_setting_t *group, const struct int_key *k,
		   long long *out)
{
	const config_setting_t *s = config_setting_get_member(group, k->name);
	long long v;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		goto bad;
	v = config_setting_get_int64(s);
	if (v < k->min || v > k->max)
		goto bad;
	*out = v;
	return 0;
bad:
	return fail(ld, s, "%s must be an integer between %lld and %lld", k->name, k->min, k->max);
}

/* An array whose elements are all strings. libconfig arrays are
 * homogeneous, but an empty one has no element type to check. */
static int check_string_array(struct loader *ld, const config_setting_t *s, const char *key,
			      const char *what)
{
	int n, i;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY)
		return fail(ld, s, "%s must be an array of %s: [\"...\", ...]", key, what);
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(ld, e, "%s must be an array of %s: [\"...\", ...]", key, what);
	}
	return 0;
}

static bool valid_amqp_name(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
			return false;
	}
	return i > 0 && i <= max;
}

static bool valid_sub_name(const char *s)
{
	size_t i;

	if (!is_lower_alnum(s[0]))
		return false;
	for (i = 1; s[i]; i++) {
		if (!is_lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return i <= CFG_NAME_MAX;
}

/* A "whsec_" secret must decode, or every signature made with it would be
 * rejected by receivers. */
static bool webhook_key_ok(const char *secret)
{
	unsigned char *key = NULL;
	size_t keylen = 0;

	if (!starts_with(secret, "whsec_"))
		return true;
	if (sig_webhook_key(secret, &key, &keylen) != 0)
		return false;
	if (key) {
		OPENSSL_cleanse(key, keylen);
		free(key);
	}
	return true;
}

/* ---- sections ----------------------------------------------------------- */

/* What the bridge will parse when it connects: a URL that fails there must
 * fail here, as a configuration error with its line. */
static bool valid_amqp_url(const char *url)
{
	struct url_amqp u;

	if (url_amqp_parse(url, &u) != 0)
		return false;
	url_amqp_clear(&u);
	return true;
}

static int dup_to(struct loader *ld, char **dst, const char *src)
{
	*dst = strdup(src);
	return *dst ? 0 : oom(ld);
}

static int load_broker(struct loader *ld, const config_setting_t *g)
{
	struct cfg *cfg = ld->cfg;
	const char *url = DEFAULT_BROKER_URL;
	const char *exchange = DEFAULT_EXCHANGE;
	const char *prefix = DEFAULT_PREFIX;
	const char *ca_file = NULL;
	const char *mgmt_url = NULL;
	const config_setting_t *at = NULL;
	long long heartbeat = int_keys[I_HEARTBEAT].def;

	set_where(ld, "broker.");
	if (g) {
		if (check_keys(ld, g, broker_keys, "broker") != 0)
			return -1;
		/* The url holds the broker password: never repeat it. */
		if (get_string(ld, g, "url", &url, &at) != 0)
			return -1;
		if (!starts_with(url, "amqp://") && !starts_with(url, "amqps://"))
			return fail(ld, at, "url must start with amqp:// or amqps://");
		if (!valid_amqp_url(url))
			return fail(
			    ld, at,
			    "url is not a valid AMQP URL (amqp://user:password@host:port/vhost; "
			    "write a / or @ inside the password as %%2F or %%40)");
		if (config_setting_get_member(g, "management_url")) {
			if (get_string(ld, g, "management_url", &mgmt_url, &at) != 0)
				return -1;
			if (!starts_with(mgmt_url, "http://") && !starts_with(mgmt_url, "https://"))
				return fail(ld, at,
					    "management_url must start with http:// or https://");
		}
		if (config_setting_get_member(g, "ca_file")) {
			if (get_string(ld, g, "ca_file", &ca_file, &at) != 0)
				return -1;
			if (!*ca_file || access(ca_file, R_OK) != 0)
				return fail(ld, at, "ca_file must name a readable PEM file");
		}
		if (get_string(ld, g, "exchange", &exchange, &at) != 0)
			return -1;
		if (!valid_amqp_name(exchange, EXCHANGE_MAX))
			return fail(ld, at,
				    "exchange must be 1 to %d characters of [A-Za-z0-9._:-]",
				    EXCHANGE_MAX);
		if (get_string(ld, g, "prefix", &prefix, &at) != 0)
			return -1;
		if (!valid_amqp_name(prefix, PREFIX_MAX))
			return fail(ld, at, "prefix must be 1 to %d characters of [A-Za-z0-9._:-]",
				    PREFIX_MAX);
		if (get_int(ld, g, &int_keys[I_HEARTBEAT], &heartbeat) != 0)
			return -1;
	}
	cfg->heartbeat_s = (int)heartbeat;
	if (dup_to(ld, &cfg->broker_url, url) != 0 || dup_to(ld, &cfg->exchange, exchange) != 0 ||
	    dup_to(ld, &cfg->prefix, prefix) != 0 ||
	    (ca_file && dup_to(ld, &cfg->ca_file, ca_file) != 0) ||
	    (mgmt_url && dup_to(ld, &cfg->management_url, mgmt_url) != 0))
		return -1;
	return 0;
}

/* Queue names derive from the canonical labels, so two delays that format
 * alike ("60s" and "1m") would share a queue. */
static int load_delays(struct loader *ld, const config_setting_t *s)
{
	struct cfg *cfg = ld->cfg;
	char buf[ECHO_MAX + 4];
	char label[32];
	int n, i, j;

	if (check_string_array(ld, s, "retry_delays", "durations") != 0)
		return -1;
	n = config_setting_length(s);
	if (n < 1 || n > CFG_MAX_DELAYS)
		return fail(ld, s, "retry_delays must hold 1 to %d durations", CFG_MAX_DELAYS);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *text = config_setting_get_string(e);
		long ms;

		if (cfg_parse_duration(text, &ms) != 0)
			return fail(ld, e,
				    "retry_delays: \"%s\" is not a duration (a whole number of ms, "
				    "s, m or h, at most 24h, e.g. \"30s\")",
				    echo(text, buf));
		for (j = 0; j < i; j++) {
			if (cfg->retry_delays_ms[j] != ms)
				continue;
			cfg_format_duration(ms, label, sizeof(label));
			return fail(ld, e,
				    "retry_delays: \"%s\" repeats delay %d (%s); each delay "
				    "names its own queue",
				    echo(text, buf), j + 1, label);
		}
		cfg->retry_delays_ms[i] = ms;
		cfg->n_delays = (size_t)i + 1;
	}
	return 0;
}

static int load_delivery(struct loader *ld, const config_setting_t *g)
{
	struct cfg *cfg = ld->cfg;
	long long timeout = int_keys[I_TIMEOUT].def;
	long long inflight = int_keys[I_INFLIGHT].def;
	long long body = int_keys[I_BODY].def;
	long long limit = int_keys[I_LIMIT].def;
	const config_setting_t *delays = NULL;
	size_t i;

	set_where(ld, "delivery.");
	if (g) {
		if (check_keys(ld, g, delivery_keys, "delivery") != 0 ||
		    get_int(ld, g, &int_keys[I_TIMEOUT], &timeout) != 0 ||
		    get_int(ld, g, &int_keys[I_INFLIGHT], &inflight) != 0 ||
		    get_int(ld, g, &int_keys[I_BODY], &body) != 0 ||
		    get_int(ld, g, &int_keys[I_LIMIT], &limit) != 0)
			return -1;
		delays = config_setting_get_member(g, "retry_delays");
	}
	cfg->timeout_ms = (long)timeout;
	cfg->max_in_flight = (int)inflight;
	cfg->max_body_bytes = (size_t)body;
	cfg->delivery_limit = (int)limit;
	if (delays)
		return load_delays(ld, delays);
	for (i = 0; i < sizeof(default_delays) / sizeof(default_delays[0]); i++) {
		if (cfg_parse_duration(default_delays[i], &cfg->retry_delays_ms[i]) != 0)
			return fail_at(ld, 0, "built-in retry_delays are invalid");
	}
	cfg->n_delays = i;
	return 0;
}

static int load_log(struct loader *ld, const config_setting_t *g)
{
	const config_setting_t *at = NULL;

	set_where(ld, "log.");
	ld->cfg->log_level = LOGL_INFO;
	if (!g)
		return 0;
	if (check_keys(ld, g, log_keys, "log") != 0)
		return -1;
	at = config_setting_get_member(g, "level");
	if (at && (config_setting_type(at) != CONFIG_TYPE_STRING ||
		   !log_parse_level(config_setting_get_string(at), &ld->cfg->log_level)))
		return fail(ld, at,
			    "level must be one of \"debug\", \"info\", \"warn\", \"error\"");
	return 0;
}

/* Copies the strings of an array setting that check_string_array passed. */
static int copy_strv(struct loader *ld, const config_setting_t *s, char ***out, size_t *n_out)
{
	int n = config_setting_length(s);
	int i;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return oom(ld);
	for (i = 0; i < n; i++) {
		if (dup_to(ld, &(*out)[i], config_setting_get_string_elem(s, (unsigned)i)) != 0)
			return -1;
		*n_out = (size_t)i + 1;
	}
	return 0;
}

static int load_url(struct loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *at = NULL;
	const char *url = NULL;
	CURLU *h = NULL;
	CURLUcode uc;
	int rc = -1;

	if (get_string(ld, g, "url", &url, &at) != 0)
		goto out;
	if (!url) {
		rc = fail(ld, g, "url is required");
		goto out;
	}
	/* The url may carry a token in its query or userinfo: never repeat it. */
	if (!starts_with(url, "http://") && !starts_with(url, "https://")) {
		rc = fail(ld, at, "url must start with http:// or https://");
		goto out;
	}
	h = curl_url();
	if (!h) {
		rc = oom(ld);
		goto out;
	}
	/* No CURLU_DEFAULT_SCHEME: the scheme is part of what we validate. */
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		rc = fail(ld, at, "url is not a valid URL (%s)", curl_url_strerror(uc));
		goto out;
	}
	rc = dup_to(ld, &sub->url, url);
out:
	curl_url_cleanup(h);
	return rc;
}

static int load_events(struct loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "events");
	char buf[ECHO_MAX + 4];
	int n, i;

	if (!s)
		return fail(ld, g, "events is required");
	if (check_string_array(ld, s, "events", "event patterns") != 0)
		return -1;
	n = config_setting_length(s);
	if (n == 0)
		return fail(ld, s, "events must list at least one event pattern");
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *pattern = config_setting_get_string(e);

		if (!ev_valid_pattern(pattern))
			return fail(ld, e,
				    "event \"%s\" is not a valid pattern (words of [a-z0-9_-], "
				    "'*' or '#', separated by '.')",
				    echo(pattern, buf));
		if (!ev_pattern_in_catalogue(pattern) &&
		    add_warning(ld, e, "event \"%s\" matches nothing in the event catalogue",
				echo(pattern, buf)) != 0)
			return -1;
	}
	return copy_strv(ld, s, &sub->events, &sub->n_events);
}

/* secret_file relative to the config file's directory, so the daemon's
 * working directory does not matter. Caller frees. */
static char *resolve_path(const char *config_path, const char *file)
{
	const char *slash = strrchr(config_path, '/');
	size_t dirlen, need;
	char *out;
	int n;

	if (file[0] == '/' || !slash)
		return strdup(file);
	dirlen = (size_t)(slash - config_path) + 1;
	need = dirlen + strlen(file) + 1;
	out = malloc(need);
	if (!out)
		return NULL;
	n = snprintf(out, need, "%.*s%s", (int)dirlen, config_path, file);
	if (n < 0 || (size_t)n >= need) {
		free(out);
		return NULL;
	}
	return out;
}

/* The secret's contents, and the file and variable names (where a secret is
 * sometimes pasted by mistake), stay out of every message. */
static int read_secret_file(struct loader *ld, const config_setting_t *at, const char *file,
			    char **out)
{
	char *path = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = -1;
	int r;

	*out = NULL;
	path = resolve_path(ld->path, file);
	if (!path) {
		rc = oom(ld);
		goto out;
	}
	r = slurp(path, SECRET_FILE_MAX, &buf, &len);
	if (r == -2) {
		rc = fail(ld, at, "secret_file is larger than %d bytes", SECRET_FILE_MAX);
		goto out;
	}
	if (r != 0) {
		rc = fail(ld, at, "cannot read secret_file%s: %s",
			  file[0] == '/' ? "" : " (relative to the config file's directory)",
			  strerror(errno));
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		rc = fail(ld, at, "secret_file contains a NUL byte");
		goto out;
	}
	/* Editors end files with a newline that is no part of the secret. */
	if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && buf[len - 1] == '\n')
		len -= 1;
	buf[len] = '\0';
	if (len == 0) {
		rc = fail(ld, at, "secret_file is empty");
		goto out;
	}
	*out = strdup(buf);
	rc = *out ? 0 : oom(ld);
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	free(path);
	return rc;
}

static int load_secret(struct loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	static const char *const sources[] = {"secret", "secret_file", "secret_env"};
	const config_setting_t *found[3];
	const config_setting_t *at = NULL;
	const char *value;
	int which = -1;
	int i;

	for (i = 0; i < 3; i++) {
		found[i] = config_setting_get_member(g, sources[i]);
		if (!found[i])
			continue;
		if (which >= 0) {
			const config_setting_t *later =
			    line_of(found[i]) >= line_of(at) ? found[i] : at;

			return fail(ld, later,
				    "%s and %s are exclusive: set exactly one of secret, "
				    "secret_file or secret_env",
				    sources[which], sources[i]);
		}
		which = i;
		at = found[i];
	}
	if (which < 0)
		return fail(ld, g, "one of secret, secret_file or secret_env is required");
	if (config_setting_type(at) != CONFIG_TYPE_STRING || !*config_setting_get_string(at))
		return fail(ld, at, "%s must be a non-empty string", sources[which]);
	value = config_setting_get_string(at);
	if (which == 0) {
		if (dup_to(ld, &sub->secret, value) != 0)
			return -1;
	} else if (which == 1) {
		if (read_secret_file(ld, at, value, &sub->secret) != 0)
			return -1;
	} else {
		const char *env = getenv(value);

		if (!env)
			return fail(ld, at,
				    "the environment variable named by secret_env is not set");
		if (!*env)
			return fail(ld, at,
				    "the environment variable named by secret_env is empty");
		if (dup_to(ld, &sub->secret, env) != 0)
			return -1;
	}
	if (!webhook_key_ok(sub->secret))
		return fail(ld, at, "secret starts with whsec_ but is not valid base64");
	return 0;
}

static int load_previous(struct loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "previous_secrets");
	int n, i;

	if (!s)
		return 0;
	if (check_string_array(ld, s, "previous_secrets", "secrets") != 0)
		return -1;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *secret = config_setting_get_string(e);

		if (!*secret)
			return fail(ld, e, "previous_secrets[%d] is empty", i);
		if (!webhook_key_ok(secret))
			return fail(
			    ld, e,
			    "previous_secrets[%d] starts with whsec_ but is not valid base64", i);
	}
	return copy_strv(ld, s, &sub->previous_secrets, &sub->n_previous);
}

static int load_sub(struct loader *ld, const config_setting_t *g, size_t index)
{
	struct cfg *cfg = ld->cfg;
	struct cfg_sub *sub = &cfg->subs[index];
	const config_setting_t *at = NULL;
	const char *name = NULL;
	char buf[ECHO_MAX + 4];
	long long inflight = cfg->max_in_flight;
	long long timeout = cfg->timeout_ms;
	size_t i;

	set_where(ld, "subscription: ");
	sub->line = (int)line_of(g);
	sub->active = true;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(ld, g, "each entry of subscriptions must be a group: { name = ...; }");
	if (get_string(ld, g, "name", &name, &at) != 0)
		return -1;
	if (!name)
		return fail(ld, g, "name is required");
	if (!valid_sub_name(name))
		return fail(ld, at, "name \"%s\" must match [a-z0-9][a-z0-9_-]{0,63}",
			    echo(name, buf));
	set_where(ld, "subscription \"%s\": ", name);
	for (i = 0; i < index; i++) {
		if (strcmp(cfg->subs[i].name, name) == 0)
			return fail(ld, at, "name is already used by the subscription at line %d",
				    cfg->subs[i].line);
	}
	if (dup_to(ld, &sub->name, name) != 0 || check_keys(ld, g, sub_keys, NULL) != 0 ||
	    load_url(ld, g, sub) != 0 || load_events(ld, g, sub) != 0 ||
	    load_secret(ld, g, sub) != 0 || load_previous(ld, g, sub) != 0)
		return -1;
	at = config_setting_get_member(g, "active");
	if (at) {
		if (config_setting_type(at) != CONFIG_TYPE_BOOL)
			return fail(ld, at, "active must be true or false");
		sub->active = config_setting_get_bool(at) != 0;
	}
	if (get_int(ld, g, &int_keys[I_INFLIGHT], &inflight) != 0 ||
	    get_int(ld, g, &int_keys[I_TIMEOUT], &timeout) != 0)
		return -1;
	sub->max_in_flight = (int)inflight;
	sub->timeout_ms = (long)timeout;
	return 0;
}

static int load_subs(struct loader *ld, const config_setting_t *root)
{
	struct cfg *cfg = ld->cfg;
	const config_setting_t *s = config_setting_get_member(root, "subscriptions");
	int n, i;

	set_where(ld, "%s", "");
	if (!s)
		return fail_at(ld, 0,
			       "subscriptions is required (it may be empty: subscriptions = ();)");
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    config_setting_type(s) != CONFIG_TYPE_ARRAY)
		return fail(ld, s,
			    "subscriptions must be a list of groups: subscriptions = ( { ... } );");
	n = config_setting_length(s);
	if (n == 0)
		return add_warning(ld, s, "no subscriptions");
	cfg->subs = calloc((size_t)n, sizeof(*cfg->subs));
	if (!cfg->subs)
		return oom(ld);
	cfg->n_subs = (size_t)n;
	for (i = 0; i < n; i++) {
		if (load_sub(ld, config_setting_get_elem(s, (unsigned)i), (size_t)i) != 0)
			return -1;
	}
	return 0;
}

/* libconfig frees its strings without clearing them; clear the secrets it
 * parsed. (Its scanner's own buffers are out of reach.) */
static void scrub_tree(config_t *lc)
{
	const config_setting_t *subs = config_lookup(lc, "subscriptions");
	int n, i, j;

	if (!subs || !config_setting_is_aggregate(subs))
		return;
	n = config_setting_length(subs);
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(subs, (unsigned)i);
		const config_setting_t *s;

		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			continue;
		s = config_setting_get_member(g, "secret");
		if (s && config_setting_type(s) == CONFIG_TYPE_STRING)
			OPENSSL_cleanse((char *)config_setting_get_string(s),
					strlen(config_setting_get_string(s)));
		s = config_setting_get_member(g, "previous_secrets");
		if (!s || !config_setting_is_aggregate(s))
			continue;
		for (j = 0; j < config_setting_length(s); j++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);

			if (config_setting_type(e) == CONFIG_TYPE_STRING)
				OPENSSL_cleanse((char *)config_setting_get_string(e),
						strlen(config_setting_get_string(e)));
		}
	}
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	struct loader ld = {.path = path, .err = err, .errlen = err ? errlen : 0};
	const config_setting_t *root, *broker, *delivery, *logg;
	char *text = NULL;
	size_t len = 0;
	config_t lc;
	bool lc_live = false;
	int rc = -1;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (out)
		*out = NULL;
	if (!path || !out) {
		ld.path = path ? path : "(null)";
		fail_at(&ld, 0, "no config file given");
		goto out;
	}
	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (!ld.cfg) {
		oom(&ld);
		goto out;
	}
	if (dup_to(&ld, &ld.cfg->path, path) != 0)
		goto out;
	/* Read the file ourselves: errno for "cannot read", and the raw text for
	 * prescan. */
	r = slurp(path, CONFIG_FILE_MAX, &text, &len);
	if (r == -2) {
		fail_at(&ld, 0, "larger than %d bytes", CONFIG_FILE_MAX);
		goto out;
	}
	if (r != 0) {
		fail_at(&ld, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	/* libconfig reads a C string and would stop at a NUL without a word. */
	if (memchr(text, '\0', len)) {
		fail_at(&ld, 0, "contains a NUL byte");
		goto out;
	}
	if (prescan(&ld, text) != 0)
		goto out;
	config_init(&lc);
	lc_live = true;
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		int line = config_error_line(&lc);

		fail_at(&ld, line > 0 ? (unsigned)line : 0, "%s",
			config_error_text(&lc) ? config_error_text(&lc) : "cannot parse");
		goto out;
	}
	root = config_root_setting(&lc);
	if (check_keys(&ld, root, top_keys, NULL) != 0 ||
	    get_group(&ld, root, "broker", &broker) != 0 ||
	    get_group(&ld, root, "delivery", &delivery) != 0 ||
	    get_group(&ld, root, "log", &logg) != 0)
		goto out;
	if (load_broker(&ld, broker) != 0 || load_delivery(&ld, delivery) != 0 ||
	    load_log(&ld, logg) != 0 || load_subs(&ld, root) != 0)
		goto out;
	*out = ld.cfg;
	ld.cfg = NULL;
	rc = 0;
out:
	if (lc_live) {
		scrub_tree(&lc);
		config_destroy(&lc);
	}
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	cfg_free(ld.cfg);
	return rc;
}
