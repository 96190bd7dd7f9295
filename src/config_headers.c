/* config: a subscription's custom request headers.
 *
 *   headers = {
 *     X-Team = "cardiology";                          # the value itself
 *     Authorization = { value_env = "CLINIC_TOKEN"; }; # or value / value_file
 *   };
 *
 * A name is an HTTP token, unique without regard to case, and none of the
 * headers the bridge sets itself. A value is what RFC 9110 allows in a field
 * (no CR, LF, NUL or other control character). No message repeats a value,
 * whatever its source: only names and key names. */
#include "config_int.h"
#include "hsbridge/redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#define HEADERS_MAX 32
#define HEADER_NAME_MAX 64
#define HEADER_VALUE_MAX 4096

/* What the bridge writes itself (its signature and id headers, the body's
 * framing and type, its identity) and what belongs to a hop, not to the
 * endpoint: a custom header may replace none of them. */
static const char *const reserved_names[] = {
    "host",    "content-type", "content-length", "content-encoding", "transfer-encoding",
    "expect",  "user-agent",   "connection",	 "keep-alive",	     "te",
    "trailer", "upgrade",      NULL};
static const char *const reserved_prefixes[] = {"webhook-", "x-healthsync-", "proxy-", NULL};

static const char *const value_keys[] = {"value", "value_file", "value_env", NULL};

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
	return is_alnum((char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

const char *cfg_header_name_problem(const char *name)
{
	size_t len = strlen(name);
	char folded[HEADER_NAME_MAX + 1];

	if (len == 0)
		return "is empty";
	if (len > HEADER_NAME_MAX)
		return "is longer than 64 characters";
	for (size_t i = 0; i < len; i++) {
		if (!is_tchar((unsigned char)name[i]))
			return "is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)";
	}
	/* Compared with '_' as '-': CGI-style receivers (WSGI, PHP, Rack) map
	 * both to the same variable, so webhook_signature would stand in for
	 * webhook-signature there. */
	for (size_t i = 0; i < len; i++)
		folded[i] = name[i] == '_' ? '-' : name[i];
	folded[len] = '\0';
	for (size_t i = 0; reserved_names[i]; i++) {
		if (strcasecmp(folded, reserved_names[i]) == 0)
			return "is a header the bridge sets itself or one for a hop, not the endpoint "
			       "('_' counts as '-')";
	}
	for (size_t i = 0; reserved_prefixes[i]; i++) {
		if (strncasecmp(folded, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
			return "starts like the bridge's own headers (webhook-, X-HealthSync-) or a "
			       "proxy's (Proxy-), '_' counting as '-'";
	}
	return NULL;
}

const char *cfg_header_value_problem(const char *value)
{
	size_t len = strlen(value);

	if (len == 0)
		return "is empty";
	if (len > HEADER_VALUE_MAX)
		return "is longer than 4096 bytes";
	if (value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' || value[len - 1] == '\t')
		return "starts or ends with white space";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "holds a CR, LF or other control character";
	}
	return NULL;
}

void cfg_scrub_header_echoes(const struct cfg_sub *sub, char *buf, size_t len, bool cut)
{
	for (size_t i = 0; i < sub->n_headers; i++)
		(void)redact_echo(buf, len, sub->headers[i].value, cut);
}

static bool contains_nocase(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++) {
		if (strncasecmp(s, word, n) == 0)
			return true;
	}
	return false;
}

/* Names that usually carry a credential: written inline in a file others
 * can read, they are worth the warning secrets get. */
static bool looks_secret(const char *name)
{
	static const char *const words[] = {"auth",	"token",      "key",	"secret",
					    "password", "credential", "cookie", "session",
					    NULL};

	for (size_t i = 0; words[i]; i++) {
		if (contains_nocase(name, words[i]))
			return true;
	}
	return false;
}

/* One member of the group: its value from a string or a value group. */
static int load_one(struct cfg_loader *ld, const config_setting_t *m, struct cfg_header *h)
{
	const char *name = config_setting_name(m);
	const char *inline_what = looks_secret(name) ? "a header value" : NULL;
	const config_setting_t *at = NULL;
	const char *problem;

	if (cfg_dup(ld, &h->name, name) != 0)
		return -1;
	h->source = CFG_HDR_INLINE;
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		if (cfg_dup(ld, &h->value, config_setting_get_string(m)) != 0 ||
		    (inline_what && cfg_warn_if_inline_exposed(ld, m, inline_what) != 0))
			return -1;
		at = m;
	} else if (config_setting_type(m) == CONFIG_TYPE_GROUP) {
		if (cfg_check_keys(ld, m, value_keys, NULL) != 0 ||
		    cfg_load_secret_from(ld, m, "value", inline_what, &h->value, &at) != 0)
			return -1;
		if (!at)
			return cfg_fail(ld, m, "one of value, value_file or value_env is required");
		if (strcmp(config_setting_name(at), "value_file") == 0)
			h->source = CFG_HDR_FILE;
		else if (strcmp(config_setting_name(at), "value_env") == 0)
			h->source = CFG_HDR_ENV;
	} else {
		return cfg_fail(ld, m,
				"must be a string, or a group with one of value, value_file or "
				"value_env");
	}
	problem = h->value ? cfg_header_value_problem(h->value) : NULL;
	if (problem)
		return cfg_fail(ld, at, "the value %s", problem);
	return 0;
}

int cfg_load_headers(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "headers");
	char outer[sizeof(ld->where)];
	int n;

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, s, "headers must be a group: headers = { X-Team = \"a\"; };");
	n = config_setting_length(s);
	if (n > HEADERS_MAX)
		return cfg_fail(ld, s, "headers holds more than %d headers", HEADERS_MAX);
	sub->headers = calloc((size_t)n + 1, sizeof(*sub->headers));
	if (!sub->headers)
		return cfg_oom(ld);
	memcpy(outer, ld->where, sizeof(outer));
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(m);
		const char *problem = cfg_header_name_problem(name);

		/* libconfig names are letters, digits, - and _: safe to repeat. */
		if (problem)
			return cfg_fail(ld, m, "headers: %.64s %s", name, problem);
		for (size_t j = 0; j < sub->n_headers; j++) {
			if (strcasecmp(sub->headers[j].name, name) == 0)
				return cfg_fail(ld, m,
						"headers: %s is set twice (header names ignore case)",
						name);
		}
		cfg_set_where(ld, "%sheaders.%s: ", outer, name);
		sub->n_headers++;
		if (load_one(ld, m, &sub->headers[i]) != 0)
			return -1;
		memcpy(ld->where, outer, sizeof(outer));
	}
	return 0;
}

void cfg_free_headers(struct cfg_sub *sub)
{
	for (size_t i = 0; sub->headers && i < sub->n_headers; i++) {
		free(sub->headers[i].name);
		if (sub->headers[i].value) {
			OPENSSL_cleanse(sub->headers[i].value, strlen(sub->headers[i].value));
			free(sub->headers[i].value);
		}
	}
	free(sub->headers);
	sub->headers = NULL;
	sub->n_headers = 0;
}

static void scrub_string(const config_setting_t *s)
{
	if (s && config_setting_type(s) == CONFIG_TYPE_STRING)
		OPENSSL_cleanse((char *)config_setting_get_string(s),
				strlen(config_setting_get_string(s)));
}

void cfg_scrub_sub_extras(const config_setting_t *g)
{
	const config_setting_t *s = config_setting_get_member(g, "signing_key");

	scrub_string(s);
	s = config_setting_get_member(g, "previous_signing_keys");
	for (int j = 0; s && config_setting_is_aggregate(s) && j < config_setting_length(s); j++)
		scrub_string(config_setting_get_elem(s, (unsigned)j));
	s = config_setting_get_member(g, "headers");
	for (int j = 0; s && config_setting_is_group(s) && j < config_setting_length(s); j++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)j);

		if (config_setting_is_group(m))
			scrub_string(config_setting_get_member(m, "value"));
		else
			scrub_string(m);
	}
}
