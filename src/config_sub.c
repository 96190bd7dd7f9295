/* config: the subscriptions list, each entry validated into a cfg_sub. */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hsbridge/event.h"

static const char *const sub_keys[] = {"name",
				       "url",
				       "events",
				       "secret",
				       "secret_file",
				       "secret_env",
				       "previous_secrets",
				       "signing_key",
				       "signing_key_file",
				       "signing_key_env",
				       "previous_signing_keys",
				       "headers",
				       "active",
				       "max_in_flight",
				       "timeout_ms",
				       "parked_max_length",
				       "breaker",
				       CFG_EGRESS_KEYS,
				       NULL};

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

static int load_url(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *at = NULL;
	const char *url = NULL;
	CURLU *h = NULL;
	CURLUcode uc;
	int rc = -1;

	if (cfg_get_string(ld, g, "url", &url, &at) != 0)
		goto out;
	if (!url) {
		rc = cfg_fail(ld, g, "url is required");
		goto out;
	}
	/* The url may carry a token in its query or userinfo: never repeat it. */
	if (!starts_with(url, "http://") && !starts_with(url, "https://")) {
		rc = cfg_fail(ld, at, "url must start with http:// or https://");
		goto out;
	}
	h = curl_url();
	if (!h) {
		rc = cfg_oom(ld);
		goto out;
	}
	/* No CURLU_DEFAULT_SCHEME: the scheme is part of what we validate. */
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		rc = cfg_fail(ld, at, "url is not a valid URL (%s)", curl_url_strerror(uc));
		goto out;
	}
	rc = cfg_dup(ld, &sub->url, url);
out:
	curl_url_cleanup(h);
	return rc;
}

static int load_events(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "events");
	char buf[ECHO_MAX + 4];
	int n, i;

	if (!s)
		return cfg_fail(ld, g, "events is required");
	if (cfg_check_string_array(ld, s, "events", "event patterns") != 0)
		return -1;
	n = config_setting_length(s);
	if (n == 0)
		return cfg_fail(ld, s, "events must list at least one event pattern");
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *pattern = config_setting_get_string(e);

		if (!ev_valid_pattern(pattern))
			return cfg_fail(ld, e,
					"event \"%s\" is not a valid pattern (words of [a-z0-9_-], "
					"'*' or '#', separated by '.')",
					cfg_echo(pattern, buf));
		if (!ev_pattern_in_catalogue(pattern) &&
		    cfg_add_warning(ld, e, "event \"%s\" matches nothing in the event catalogue",
				    cfg_echo(pattern, buf)) != 0)
			return -1;
	}
	return cfg_copy_strv(ld, s, &sub->events, &sub->n_events);
}

static int load_sub(struct cfg_loader *ld, const config_setting_t *g, size_t index)
{
	struct cfg *cfg = ld->cfg;
	struct cfg_sub *sub = &cfg->subs[index];
	const config_setting_t *at = NULL;
	const char *name = NULL;
	char buf[ECHO_MAX + 4];
	long long inflight = cfg->max_in_flight;
	long long timeout = cfg->timeout_ms;
	long long parked = cfg->parked_max_length;
	size_t i;

	cfg_set_where(ld, "subscription: ");
	sub->line = (int)cfg_line_of(g);
	sub->active = true;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return cfg_fail(ld, g,
				"each entry of subscriptions must be a group: { name = ...; }");
	if (cfg_get_string(ld, g, "name", &name, &at) != 0)
		return -1;
	if (!name)
		return cfg_fail(ld, g, "name is required");
	if (!valid_sub_name(name))
		return cfg_fail(ld, at, "name \"%s\" must match [a-z0-9][a-z0-9_-]{0,63}",
				cfg_echo(name, buf));
	/* <prefix>.attempts is the history stream (issue 11), kept apart even
	 * with history off, so that turning it on cannot collide. */
	if (strcmp(name, "attempts") == 0)
		return cfg_fail(ld, at,
				"name \"attempts\" is reserved: %s.attempts is the history stream",
				cfg->prefix);
	cfg_set_where(ld, "subscription \"%s\": ", name);
	for (i = 0; i < index; i++) {
		if (strcmp(cfg->subs[i].name, name) == 0)
			return cfg_fail(ld, at,
					"name is already used by the subscription at line %d",
					cfg->subs[i].line);
	}
	if (cfg_dup(ld, &sub->name, name) != 0 || cfg_check_keys(ld, g, sub_keys, NULL) != 0 ||
	    load_url(ld, g, sub) != 0 || load_events(ld, g, sub) != 0 ||
	    cfg_load_secret(ld, g, sub) != 0 || cfg_load_previous(ld, g, sub) != 0 ||
	    cfg_load_signing(ld, g, sub) != 0 || cfg_load_headers(ld, g, sub) != 0)
		return -1;
	at = config_setting_get_member(g, "active");
	if (at) {
		if (config_setting_type(at) != CONFIG_TYPE_BOOL)
			return cfg_fail(ld, at, "active must be true or false");
		sub->active = config_setting_get_bool(at) != 0;
	}
	if (cfg_get_int(ld, g, &cfg_int_keys[I_INFLIGHT], &inflight) != 0 ||
	    cfg_get_int(ld, g, &cfg_int_keys[I_TIMEOUT], &timeout) != 0 ||
	    cfg_get_int(ld, g, &cfg_int_keys[I_PARKED], &parked) != 0)
		return -1;
	sub->max_in_flight = (int)inflight;
	sub->timeout_ms = (long)timeout;
	sub->parked_max_length = (long)parked;
	sub->breaker = cfg->breaker;
	if (cfg_egress_copy(ld, &sub->egress, &cfg->egress) != 0 ||
	    cfg_load_egress(ld, g, &sub->egress) != 0)
		return -1;
	cfg_set_where(ld, "subscription \"%s\": ", name);
	if (cfg_get_group(ld, g, "breaker", &at) != 0)
		return -1;
	return cfg_load_breaker(ld, at, &sub->breaker);
}

int cfg_load_subs(struct cfg_loader *ld, const config_setting_t *root)
{
	struct cfg *cfg = ld->cfg;
	const config_setting_t *s = config_setting_get_member(root, "subscriptions");
	int n, i;

	cfg_set_where(ld, "%s", "");
	if (!s)
		return cfg_fail_at(
		    ld, 0, "subscriptions is required (it may be empty: subscriptions = ();)");
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    config_setting_type(s) != CONFIG_TYPE_ARRAY)
		return cfg_fail(
		    ld, s, "subscriptions must be a list of groups: subscriptions = ( { ... } );");
	n = config_setting_length(s);
	if (n == 0)
		return cfg_add_warning(ld, s, "no subscriptions");
	cfg->subs = calloc((size_t)n, sizeof(*cfg->subs));
	if (!cfg->subs)
		return cfg_oom(ld);
	cfg->n_subs = (size_t)n;
	for (i = 0; i < n; i++) {
		if (load_sub(ld, config_setting_get_elem(s, (unsigned)i), (size_t)i) != 0)
			return -1;
	}
	return 0;
}
