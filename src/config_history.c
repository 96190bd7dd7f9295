/* config: the `history` group (issue 11): whether every attempt is recorded
 * in the stream <prefix>.attempts, and the stream's retention. */
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_MAX_AGE "7d"
#define DEFAULT_MAX_BYTES "1GiB"
/* The bridge reads at most DISP_BODY_MAX (4 KiB) of an answer. */
#define RESPONSE_BYTES_MAX 4096
#define DEFAULT_RESPONSE_BYTES 256
/* Ten years; RabbitMQ takes any age, a longer one is a typo. */
#define MAX_AGE_MAX_S (3650LL * 86400)
/* A stream keeps at least one segment whatever the bound: below a MiB the
 * bound means nothing. 1 TiB at most: more is a typo. */
#define MAX_BYTES_MIN (1LL << 20)
#define MAX_BYTES_MAX (1LL << 40)

static const char *const history_keys[] = {"enabled", "max_age", "max_bytes", "response_bytes",
					   NULL};

static const struct int_key response_key = {"response_bytes", 0, RESPONSE_BYTES_MAX,
					    DEFAULT_RESPONSE_BYTES};

/* A whole positive number and a unit, from units[]: 0 with *out, or -1. */
struct unit {
	const char *name;
	long long factor;
};

static int parse_with_units(const char *s, const struct unit *units, size_t n, long long max,
			    long long *out)
{
	char *end = NULL;
	long long v;

	if (!s || !is_digit(s[0]))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].name) != 0)
			continue;
		if (v > max / units[i].factor)
			return -1;
		*out = v * units[i].factor;
		return 0;
	}
	return -1;
}

static const struct unit age_units[] = {{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
static const struct unit size_units[] = {
    {"B", 1}, {"KiB", 1LL << 10}, {"MiB", 1LL << 20}, {"GiB", 1LL << 30}, {"TiB", 1LL << 40}};

void cfg_format_age(long long s, char *buf, size_t len)
{
	if (s > 0 && s % 86400 == 0)
		snprintf(buf, len, "%lldD", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		snprintf(buf, len, "%lldh", s / 3600);
	else if (s > 0 && s % 60 == 0)
		snprintf(buf, len, "%lldm", s / 60);
	else
		snprintf(buf, len, "%llds", s);
}

void cfg_format_bytes(long long b, char *buf, size_t len)
{
	static const char *const names[] = {"TiB", "GiB", "MiB", "KiB"};

	for (int i = 0; i < 4; i++) {
		long long f = 1LL << (10 * (4 - i));

		if (b > 0 && b % f == 0) {
			snprintf(buf, len, "%lld%s", b / f, names[i]);
			return;
		}
	}
	snprintf(buf, len, "%lldB", b);
}

/* max_age and max_bytes: a string with a unit (max_bytes also a plain
 * integer of bytes). */
static int get_retention(struct cfg_loader *ld, const config_setting_t *g, struct cfg_history *h)
{
	const config_setting_t *at = config_setting_get_member(g, "max_age");
	char buf[ECHO_MAX + 4];
	const char *text;

	if (at) {
		text = config_setting_type(at) == CONFIG_TYPE_STRING ? config_setting_get_string(at)
								     : NULL;
		if (parse_with_units(text, age_units, 4, MAX_AGE_MAX_S, &h->max_age_s) != 0)
			return cfg_fail(ld, at,
					"max_age: \"%s\" is not an age (a whole number of s, m, h "
					"or d, up to 3650d, e.g. \"7d\")",
					cfg_echo(text ? text : "(not a string)", buf));
	}
	at = config_setting_get_member(g, "max_bytes");
	if (!at)
		return 0;
	if (config_setting_type(at) == CONFIG_TYPE_INT ||
	    config_setting_type(at) == CONFIG_TYPE_INT64) {
		h->max_bytes = config_setting_get_int64(at);
		text = NULL;
	} else {
		text = config_setting_type(at) == CONFIG_TYPE_STRING ? config_setting_get_string(at)
								     : "(not a string)";
		if (parse_with_units(text, size_units, 5, MAX_BYTES_MAX, &h->max_bytes) != 0)
			h->max_bytes = -1;
	}
	if (h->max_bytes < MAX_BYTES_MIN || h->max_bytes > MAX_BYTES_MAX) {
		if (text)
			cfg_echo(text, buf);
		else
			snprintf(buf, sizeof(buf), "%lld", h->max_bytes);
		return cfg_fail(ld, at,
				"max_bytes: \"%s\" is not a size from 1MiB to 1TiB (bytes, or a "
				"whole number of KiB, MiB, GiB or TiB, e.g. \"1GiB\")",
				buf);
	}
	return 0;
}

int cfg_load_history(struct cfg_loader *ld, const config_setting_t *g)
{
	struct cfg_history *h = &ld->cfg->history;
	const config_setting_t *at;
	long long response = response_key.def;

	h->enabled = true;
	h->response_bytes = DEFAULT_RESPONSE_BYTES;
	if (parse_with_units(DEFAULT_MAX_AGE, age_units, 4, MAX_AGE_MAX_S, &h->max_age_s) != 0 ||
	    parse_with_units(DEFAULT_MAX_BYTES, size_units, 5, MAX_BYTES_MAX, &h->max_bytes) != 0)
		return cfg_fail_at(ld, 0, "built-in history retention is invalid");
	cfg_set_where(ld, "history.");
	if (!g)
		return 0;
	if (cfg_check_keys(ld, g, history_keys, "history") != 0)
		return -1;
	at = config_setting_get_member(g, "enabled");
	if (at && config_setting_type(at) != CONFIG_TYPE_BOOL)
		return cfg_fail(ld, at, "enabled must be true or false");
	if (at)
		h->enabled = config_setting_get_bool(at) != 0;
	if (get_retention(ld, g, h) != 0 || cfg_get_int(ld, g, &response_key, &response) != 0)
		return -1;
	h->response_bytes = (long)response;
	return 0;
}
