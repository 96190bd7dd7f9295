/* config: a subscription's secret from secret, secret_file or secret_env,
 * its previous secrets, warnings about files that others can read, and the
 * scrubbing of what libconfig parsed. No message here ever holds a secret
 * or its variable name, nor a secret_file name that could not be read (a
 * secret pasted there by mistake). */
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "hsbridge/signature.h"

/* Secrets are tens of bytes; anything this large is the wrong file. */
#define SECRET_FILE_MAX (64 * 1024)

/* secret_file relative to the config file's directory, so the daemon's
 * working directory does not matter. Caller frees. */
char *cfg_resolve_path(const char *config_path, const char *file)
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

bool cfg_mode_exposed(unsigned mode)
{
	return (mode & (S_IRGRP | S_IROTH)) != 0;
}

const char *cfg_mode_text(unsigned mode, char buf[8])
{
	snprintf(buf, 8, "%04o", mode & 07777);
	return buf;
}

int cfg_warn_if_file_exposed(struct cfg_loader *ld, const config_setting_t *at, const char *what,
			     const char *how, const char *path)
{
	struct stat st;
	char shown[ECHO_MAX + 4];
	char mode[8];

	if (stat(path, &st) != 0 || !cfg_mode_exposed(st.st_mode))
		return 0;
	return cfg_add_warning(ld, at,
			       "%s %s is %sreadable by group or others (mode %s); chmod 600 it",
			       what, cfg_echo(path, shown), how, cfg_mode_text(st.st_mode, mode));
}

/* Secrets written in a config file that group or others can read (a
 * subscription's secret or previous_secrets, the broker password): one
 * warning per load, at the first of them. */
int cfg_warn_if_inline_exposed(struct cfg_loader *ld, const config_setting_t *at, const char *what)
{
	struct stat st;
	char mode[8];

	if (ld->inline_checked)
		return 0;
	ld->inline_checked = true;
	if (stat(ld->path, &st) != 0 || !cfg_mode_exposed(st.st_mode))
		return 0;
	return cfg_add_warning(ld, at,
			       "%s is written in this file, which is readable by group or "
			       "others (mode %s); chmod 600 the file, or use secret_file or "
			       "secret_env for webhook secrets",
			       what, cfg_mode_text(st.st_mode, mode));
}

/* The secret's contents, and the file and variable names (where a secret is
 * sometimes pasted by mistake), stay out of every message. */
static int read_secret_file(struct cfg_loader *ld, const config_setting_t *at, const char *key,
			    const char *file, char **out)
{
	char *path = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = -1;
	int r;

	*out = NULL;
	path = cfg_resolve_path(ld->path, file);
	if (!path) {
		rc = cfg_oom(ld);
		goto out;
	}
	r = cfg_slurp(path, SECRET_FILE_MAX, &buf, &len);
	if (r == -2) {
		rc = cfg_fail(ld, at, "%s_file is larger than %d bytes", key, SECRET_FILE_MAX);
		goto out;
	}
	if (r != 0) {
		rc = cfg_fail(ld, at, "cannot read %s_file%s: %s", key,
			      file[0] == '/' ? "" : " (relative to the config file's directory)",
			      strerror(errno));
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		rc = cfg_fail(ld, at, "%s_file contains a NUL byte", key);
		goto out;
	}
	/* Editors end files with a newline that is no part of the secret. */
	if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && buf[len - 1] == '\n')
		len -= 1;
	buf[len] = '\0';
	if (len == 0) {
		rc = cfg_fail(ld, at, "%s_file is empty", key);
		goto out;
	}
	*out = strdup(buf);
	if (*out) {
		char what[64];

		snprintf(what, sizeof(what), "%s_file", key);
		rc = cfg_warn_if_file_exposed(ld, at, what, "", path);
	} else {
		rc = cfg_oom(ld);
	}
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	free(path);
	return rc;
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

/* A POSIX environment variable name. Anything else is refused, and never
 * printed: it may be the secret itself, written where its name belongs. */
static bool env_name_ok(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	}
	return true;
}

/* Upper case, digits and _, like every variable a service file sets, and
 * not a whsec_ secret in capitals: safe to print. */
static bool env_name_conventional(const char *s)
{
	if (strncmp(s, "WHSEC_", 6) == 0)
		return false;
	for (; *s; s++) {
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	}
	return true;
}

/* A secret of g from exactly one of <key>, <key>_file and <key>_env (the
 * members' names in names[3]). */
static int find_source(struct cfg_loader *ld, const config_setting_t *g, const char *key,
		       char names[3][CFG_NAME_MAX], const config_setting_t **at)
{
	int which = -1;

	snprintf(names[0], CFG_NAME_MAX, "%s", key);
	snprintf(names[1], CFG_NAME_MAX, "%s_file", key);
	snprintf(names[2], CFG_NAME_MAX, "%s_env", key);
	*at = NULL;
	for (int i = 0; i < 3; i++) {
		const config_setting_t *found = config_setting_get_member(g, names[i]);

		if (!found)
			continue;
		if (which >= 0) {
			const config_setting_t *later =
			    cfg_line_of(found) >= cfg_line_of(*at) ? found : *at;

			cfg_fail(ld, later, "%s and %s are exclusive: set exactly one of %s, %s or %s",
				 names[which], names[i], names[0], names[1], names[2]);
			return -2;
		}
		which = i;
		*at = found;
	}
	return which;
}

int cfg_load_secret_from(struct cfg_loader *ld, const config_setting_t *g, const char *key,
			 const char *inline_what, char **out, const config_setting_t **at_out)
{
	char names[3][CFG_NAME_MAX];
	const config_setting_t *at = NULL;
	const char *value;
	int which = find_source(ld, g, key, names, &at);

	*out = NULL;
	*at_out = at;
	if (which < 0)
		return which == -1 ? 0 : -1;
	if (config_setting_type(at) != CONFIG_TYPE_STRING || !*config_setting_get_string(at))
		return cfg_fail(ld, at, "%s must be a non-empty string", names[which]);
	value = config_setting_get_string(at);
	if (which == 2 && !env_name_ok(value))
		return cfg_fail(ld, at,
				"%s must be the name of an environment variable (letters, "
				"digits and _, not starting with a digit), not the secret itself",
				names[2]);
	if (which > 0 && ld->no_secrets)
		return 0;
	if (which == 0)
		return cfg_dup(ld, out, value) != 0 ||
			       (inline_what && cfg_warn_if_inline_exposed(ld, at, inline_what) != 0)
			   ? -1
			   : 0;
	if (which == 1)
		return read_secret_file(ld, at, key, value, out);
	{
		const char *env = getenv(value);
		/* Named only when it looks like a name, not a secret put there. */
		const char *shown = env_name_conventional(value) ? value : "it names";

		if (!env)
			return cfg_fail(ld, at, "%s: the environment variable %s is not set",
					names[2], shown);
		if (!*env)
			return cfg_fail(ld, at, "%s: the environment variable %s is empty",
					names[2], shown);
		return cfg_dup(ld, out, env);
	}
}

int cfg_load_secret(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *at = NULL;

	if (cfg_load_secret_from(ld, g, "secret", "a secret", &sub->secret, &at) != 0)
		return -1;
	if (!at)
		return cfg_fail(ld, g, "one of secret, secret_file or secret_env is required");
	if (sub->secret && !webhook_key_ok(sub->secret))
		return cfg_fail(ld, at, "secret starts with whsec_ but is not valid base64");
	return 0;
}

int cfg_load_previous(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "previous_secrets");
	int n, i;

	if (!s)
		return 0;
	if (cfg_check_string_array(ld, s, "previous_secrets", "secrets") != 0)
		return -1;
	n = config_setting_length(s);
	if (n > 0 && cfg_warn_if_inline_exposed(ld, s, "a secret") != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *secret = config_setting_get_string(e);

		if (!*secret)
			return cfg_fail(ld, e, "previous_secrets[%d] is empty", i);
		if (!webhook_key_ok(secret))
			return cfg_fail(
			    ld, e,
			    "previous_secrets[%d] starts with whsec_ but is not valid base64", i);
	}
	return cfg_copy_strv(ld, s, &sub->previous_secrets, &sub->n_previous);
}

/* libconfig frees its strings without clearing them; clear the secrets it
 * parsed. (Its scanner's own buffers are out of reach.) */
void cfg_scrub_tree(config_t *lc)
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
		cfg_scrub_sub_extras(g);
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
