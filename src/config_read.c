/* config: the key table, the loader's messages and the typed readers every
 * section uses. Each reader checks type and bounds and names the line. */
#include "config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct int_key cfg_int_keys[] = {
    [I_HEARTBEAT] = {"heartbeat_s", 0, 3600, 30},
    [I_TIMEOUT] = {"timeout_ms", 1, 600000, 5000},
    [I_INFLIGHT] = {"max_in_flight", 1, 65535, 64},
    [I_BODY] = {"max_body_bytes", 1, 134217728, 1048576},
    [I_LIMIT] = {"delivery_limit", 1, 1000, 20},
    /* 0: no limit, and no queue argument, so that queues declared before
     * the key existed are still declared unchanged. */
    [I_PARKED] = {"parked_max_length", 0, 1000000000, 0},
    /* breaker.failures: endpoint failures in a row that open the breaker */
    [I_FAILURES] = {"failures", 1, 1000000, 10},
    /* 0: no limit; the ceiling is ratelimit.h's RL_MAX */
    [I_RATE] = {"max_per_second", 0, 1000000, 0},
};

/* "<path>:<line>: <where><message>", or "<path>: …" when no line applies. */
static void vformat(const struct cfg_loader *ld, unsigned line, char *buf, size_t len,
		    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

void cfg_set_where(struct cfg_loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->where, sizeof(ld->where), fmt, ap);
	va_end(ap);
}

static void vformat(const struct cfg_loader *ld, unsigned line, char *buf, size_t len,
		    const char *fmt, va_list ap)
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

int cfg_fail_at(struct cfg_loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, line, ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

unsigned cfg_line_of(const config_setting_t *s)
{
	return s ? config_setting_source_line(s) : 0;
}

int cfg_fail(struct cfg_loader *ld, const config_setting_t *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, cfg_line_of(at), ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int cfg_oom(struct cfg_loader *ld)
{
	cfg_set_where(ld, "%s", "");
	return cfg_fail_at(ld, 0, "out of memory");
}

int cfg_add_warning(struct cfg_loader *ld, const config_setting_t *at, const char *fmt, ...)
{
	struct cfg *cfg = ld->cfg;
	char buf[512];
	char **grown;
	char *copy;
	va_list ap;

	va_start(ap, fmt);
	vformat(ld, cfg_line_of(at), buf, sizeof(buf), fmt, ap);
	va_end(ap);
	copy = strdup(buf);
	if (!copy)
		return cfg_oom(ld);
	grown = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return cfg_oom(ld);
	}
	cfg->warnings = grown;
	cfg->warnings[cfg->n_warnings++] = copy;
	return 0;
}

/* A user value repeated in a message: one line, printable, bounded. Only
 * ever called on values that are not secrets. */
const char *cfg_echo(const char *s, char buf[ECHO_MAX + 4])
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

int cfg_dup(struct cfg_loader *ld, char **dst, const char *src)
{
	*dst = strdup(src);
	return *dst ? 0 : cfg_oom(ld);
}

/* Every child of group must be named in allowed. section qualifies the key
 * in the message ("broker.url"); NULL at the top and in subscriptions, whose
 * prefix already says where. */
int cfg_check_keys(struct cfg_loader *ld, const config_setting_t *group, const char *const *allowed,
		   const char *section)
{
	int n = config_setting_length(group);
	char list[640];
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
			cfg_set_where(ld, "%s", "");
		return cfg_fail(ld, s, "unknown key \"%s%s%s\" (expected one of: %s)",
				section ? section : "", section ? "." : "", name ? name : "?",
				list);
	}
	return 0;
}

/* An optional group: *out is NULL when absent. */
int cfg_get_group(struct cfg_loader *ld, const config_setting_t *parent, const char *key,
		  const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(parent, key);

	*out = NULL;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, s, "%s must be a group: %s = { ... };", key, key);
	*out = s;
	return 0;
}

/* An optional string: *out (borrowed from libconfig) keeps its default when
 * absent. */
int cfg_get_string(struct cfg_loader *ld, const config_setting_t *group, const char *key,
		   const char **out, const config_setting_t **at)
{
	const config_setting_t *s = config_setting_get_member(group, key);

	if (at)
		*at = s;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(ld, s, "%s must be a string", key);
	*out = config_setting_get_string(s);
	return 0;
}

/* An optional integer within its row's bounds: *out keeps its value when
 * absent. Floats, strings and booleans are errors, not conversions. */
int cfg_get_int(struct cfg_loader *ld, const config_setting_t *group, const struct int_key *k,
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
	return cfg_fail(ld, s, "%s must be an integer between %lld and %lld", k->name, k->min,
			k->max);
}

/* An array whose elements are all strings. libconfig arrays are
 * homogeneous, but an empty one has no element type to check. */
int cfg_check_string_array(struct cfg_loader *ld, const config_setting_t *s, const char *key,
			   const char *what)
{
	int n, i;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY)
		return cfg_fail(ld, s, "%s must be an array of %s: [\"...\", ...]", key, what);
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(ld, e, "%s must be an array of %s: [\"...\", ...]", key,
					what);
	}
	return 0;
}

/* Copies the strings of an array setting that check_string_array passed. */
int cfg_copy_strv(struct cfg_loader *ld, const config_setting_t *s, char ***out, size_t *n_out)
{
	int n = config_setting_length(s);
	int i;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return cfg_oom(ld);
	for (i = 0; i < n; i++) {
		if (cfg_dup(ld, &(*out)[i], config_setting_get_string_elem(s, (unsigned)i)) != 0)
			return -1;
		*n_out = (size_t)i + 1;
	}
	return 0;
}
