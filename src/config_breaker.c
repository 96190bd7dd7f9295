/* config: the `breaker` group (issue 7), at the top level and as a
 * subscription's override, key by key. */
#include "config_int.h"

#include <stdio.h>

#define DEFAULT_COOLDOWN "30s"
#define DEFAULT_MAX_COOLDOWN "10m"

static const char *const breaker_keys[] = {"enabled", "failures", "cooldown", "max_cooldown",
					   NULL};

void cfg_breaker_defaults(struct breaker_conf *out)
{
	out->enabled = true;
	out->failures = (int)cfg_int_keys[I_FAILURES].def;
	if (cfg_parse_duration(DEFAULT_COOLDOWN, &out->cooldown_ms) != 0 ||
	    cfg_parse_duration(DEFAULT_MAX_COOLDOWN, &out->max_cooldown_ms) != 0)
		out->cooldown_ms = out->max_cooldown_ms = 30000;
}

/* An optional duration key; *ms keeps its value when absent. *at: the
 * setting, or NULL. */
static int get_duration(struct cfg_loader *ld, const config_setting_t *g, const char *key,
			long *ms, const config_setting_t **at)
{
	const char *text = NULL;
	char buf[ECHO_MAX + 4];

	if (cfg_get_string(ld, g, key, &text, at) != 0)
		return -1;
	if (!*at)
		return 0;
	if (cfg_parse_duration(text, ms) != 0)
		return cfg_fail(ld, *at,
				"%s: \"%s\" is not a duration (a whole number of ms, s, m or h, at "
				"most 24h, e.g. \"30s\")",
				key, cfg_echo(text, buf));
	return 0;
}

int cfg_load_breaker(struct cfg_loader *ld, const config_setting_t *g, struct breaker_conf *inout)
{
	const config_setting_t *at = NULL, *cool_at = NULL, *max_at = NULL;
	char outer[sizeof(ld->where)];
	long long failures = inout->failures;
	char a[32], b[32];
	int rc = -1;

	if (!g)
		return 0;
	snprintf(outer, sizeof(outer), "%s", ld->where);
	/* At the top level the key is qualified ("breaker.x"); in a
	 * subscription the prefix says where, and the group is named. */
	if (outer[0] == '\0') {
		if (cfg_check_keys(ld, g, breaker_keys, "breaker") != 0)
			goto out;
	} else {
		cfg_set_where(ld, "%sbreaker: ", outer);
		if (cfg_check_keys(ld, g, breaker_keys, NULL) != 0)
			goto out;
	}
	cfg_set_where(ld, "%sbreaker.", outer);
	at = config_setting_get_member(g, "enabled");
	if (at && config_setting_type(at) != CONFIG_TYPE_BOOL) {
		cfg_fail(ld, at, "enabled must be true or false");
		goto out;
	}
	if (at)
		inout->enabled = config_setting_get_bool(at) != 0;
	if (cfg_get_int(ld, g, &cfg_int_keys[I_FAILURES], &failures) != 0 ||
	    get_duration(ld, g, "cooldown", &inout->cooldown_ms, &cool_at) != 0 ||
	    get_duration(ld, g, "max_cooldown", &inout->max_cooldown_ms, &max_at) != 0)
		goto out;
	inout->failures = (int)failures;
	/* A longer cool-down alone raises the ceiling it would exceed; a
	 * ceiling written below the cool-down is a contradiction. */
	if (inout->max_cooldown_ms < inout->cooldown_ms) {
		if (!max_at) {
			inout->max_cooldown_ms = inout->cooldown_ms;
		} else {
			cfg_format_duration(inout->max_cooldown_ms, a, sizeof(a));
			cfg_format_duration(inout->cooldown_ms, b, sizeof(b));
			cfg_fail(ld, max_at, "max_cooldown (%s) must not be shorter than cooldown (%s)",
				 a, b);
			goto out;
		}
	}
	rc = 0;
out:
	cfg_set_where(ld, "%s", outer);
	return rc;
}
