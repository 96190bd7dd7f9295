/* config: loads and validates the libconfig file of DESIGN section 5. The
 * loader and the broker, delivery and log groups live here; the readers,
 * raw-text checks, secrets, subscriptions and durations in config_*.c. */
#include "hsbridge/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/crypto.h>

#include "hsbridge/log.h"
#include "hsbridge/nodes.h"
#include "hsbridge/url.h"

#include "config_int.h"

/* A config file is a few kilobytes; the cap keeps a wrong path (a log, a
 * device) from being slurped. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* AMQP short strings hold 255 bytes. Queue names are built as
 * "<prefix>.<subscription>.<suffix>", so the prefix leaves room for the rest. */
#define EXCHANGE_MAX 255
#define PREFIX_MAX 127

#define DEFAULT_BROKER_URL "amqp://guest:guest@127.0.0.1:5672/%2f"
#define DEFAULT_EXCHANGE "healthsync.events"
#define DEFAULT_PREFIX "hsbridge"

static const char *const default_delays[] = {"1m", "5m", "30m", "1h"};

/* The keys each group may hold; anything else is a typo and an error. */
static const char *const top_keys[] = {"broker", "delivery", "breaker",	    "metrics",
				       "history", "log",      "subscriptions", NULL};
static const char *const broker_keys[] = {"url",     "exchange",       "prefix", "heartbeat_s",
					  "ca_file", "management_url", NULL};
/* ... and the egress keys of config_egress.c, as in a subscription. */
static const char *const delivery_keys[] = {"timeout_ms",
					    "retry_delays",
					    "max_in_flight",
					    "max_body_bytes",
					    "delivery_limit",
					    "parked_max_length",
					    CFG_EGRESS_KEYS,
					    NULL};
static const char *const log_keys[] = {"level", NULL};
static const char *const metrics_keys[] = {"listen", NULL};

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

static void scrub_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

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
		scrub_free(sub->signing_key);
		free_strv(sub->previous_signing_keys, sub->n_previous_signing, true);
		cfg_free_headers(sub);
		cfg_egress_free(&sub->egress);
	}
	free(cfg->subs);
	cfg_egress_free(&cfg->egress);
	free_strv(cfg->warnings, cfg->n_warnings, false);
	free(cfg->path);
	/* The broker urls carry the broker password. */
	for (i = 0; i < cfg->n_broker_urls; i++)
		scrub_free(cfg->broker_urls[i]);
	free(cfg->broker_urls);
	free(cfg->ca_file);
	free(cfg->management_url);
	free(cfg->exchange);
	free(cfg->prefix);
	free(cfg->metrics_listen);
	free(cfg);
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

/* A password in a URL's authority (user:password@host), other than
 * RabbitMQ's well-known guest:guest, which works from localhost only and
 * is no secret. */
static bool has_password(const char *url)
{
	const char *auth = strstr(url, "://");
	const char *at, *colon;

	if (!auth)
		return false;
	auth += 3;
	at = memchr(auth, '@', strcspn(auth, "/?#"));
	if (!at)
		return false;
	colon = memchr(auth, ':', (size_t)(at - auth));
	return colon && colon + 1 < at &&
	       !(at - auth == 11 && strncmp(auth, "guest:guest", 11) == 0);
}

/* exchange or prefix: 1 to max characters of [A-Za-z0-9._:-]. */
static int get_amqp_name(struct cfg_loader *ld, const config_setting_t *g, const char *key,
			 int max, const char **out)
{
	const config_setting_t *at = NULL;

	if (cfg_get_string(ld, g, key, out, &at) != 0)
		return -1;
	if (!valid_amqp_name(*out, (size_t)max))
		return cfg_fail(ld, at, "%s must be 1 to %d characters of [A-Za-z0-9._:-]", key,
				max);
	return 0;
}

/* One URL of broker.url, at setting `at`: what the bridge will connect to.
 * label names it in messages ("url" or "url element 2"). The URL holds the
 * broker password: never repeat it. */
static int check_broker_url(struct cfg_loader *ld, const config_setting_t *at, const char *label,
			    const char *url)
{
	if (!starts_with(url, "amqp://") && !starts_with(url, "amqps://"))
		return cfg_fail(ld, at, "%s must start with amqp:// or amqps://", label);
	if (!valid_amqp_url(url))
		return cfg_fail(ld, at,
				"%s is not a valid AMQP URL (amqp://user:password@host:port/vhost; "
				"write a / or @ inside the password as %%2F or %%40)",
				label);
	if (has_password(url) &&
	    cfg_warn_if_inline_exposed(ld, at, "url: the broker password") != 0)
		return -1;
	return cfg_dup(ld, &ld->cfg->broker_urls[ld->cfg->n_broker_urls++], url);
}

/* broker.url: one URL, or a list or array of them (the nodes of a
 * cluster, tried in a shuffled order). An element's line is its own when
 * libconfig knows it, else the list's. */
static int load_broker_urls(struct cfg_loader *ld, const config_setting_t *s)
{
	struct cfg *cfg = ld->cfg;
	char label[48];
	int n;

	if (!s) {
		cfg->broker_urls = calloc(1, sizeof(*cfg->broker_urls));
		return cfg->broker_urls ? check_broker_url(ld, NULL, "url", DEFAULT_BROKER_URL)
					: cfg_oom(ld);
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		cfg->broker_urls = calloc(1, sizeof(*cfg->broker_urls));
		return cfg->broker_urls
			   ? check_broker_url(ld, s, "url", config_setting_get_string(s))
			   : cfg_oom(ld);
	}
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    config_setting_type(s) != CONFIG_TYPE_ARRAY)
		return cfg_fail(ld, s,
				"url must be a string or a list of strings: "
				"[\"amqp://host1:5672/%%2f\", \"amqp://host2:5672/%%2f\"]");
	n = config_setting_length(s);
	if (n == 0)
		return cfg_fail(ld, s, "url must list at least one URL");
	if (n > NODES_MAX)
		return cfg_fail(ld, s, "url lists %d URLs; at most %d", n, NODES_MAX);
	cfg->broker_urls = calloc((size_t)n, sizeof(*cfg->broker_urls));
	if (!cfg->broker_urls)
		return cfg_oom(ld);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const config_setting_t *at = cfg_line_of(e) ? e : s;

		snprintf(label, sizeof(label), "url element %d", i + 1);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(ld, at, "%s must be a string", label);
		if (check_broker_url(ld, at, label, config_setting_get_string(e)) != 0)
			return -1;
		/* Failing over from a TLS node to a plain one would send the
		 * password and the events in cleartext. */
		if (i > 0 && starts_with(cfg->broker_urls[i], "amqps://") !=
				 starts_with(cfg->broker_urls[0], "amqps://"))
			return cfg_fail(ld, at,
					"%s: a list mixes amqp:// and amqps:// URLs; a failover "
					"would then send the password and the events without TLS",
					label);
		for (int j = 0; j < i; j++) {
			if (strcmp(cfg->broker_urls[j], cfg->broker_urls[i]) == 0)
				return cfg_fail(ld, at, "%s is the same URL as element %d", label,
						j + 1);
		}
	}
	return 0;
}

/* Whether any URL of broker.url uses TLS. */
static bool any_amqps(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_broker_urls; i++) {
		if (starts_with(cfg->broker_urls[i], "amqps://"))
			return true;
	}
	return false;
}

static int load_management_url(struct cfg_loader *ld, const config_setting_t *g,
			       const char **mgmt_url)
{
	const config_setting_t *at = NULL;

	if (cfg_get_string(ld, g, "management_url", mgmt_url, &at) != 0)
		return -1;
	if (!starts_with(*mgmt_url, "http://") && !starts_with(*mgmt_url, "https://"))
		return cfg_fail(ld, at, "management_url must start with http:// or https://");
	if (any_amqps(ld->cfg) && starts_with(*mgmt_url, "http://") &&
	    cfg_add_warning(ld, at,
			    "management_url is http:// for an amqps:// broker: the "
			    "broker password would go to it in cleartext (Basic "
			    "auth); use https://") != 0)
		return -1;
	if (has_password(*mgmt_url) &&
	    cfg_warn_if_inline_exposed(ld, at, "management_url: a password") != 0)
		return -1;
	return 0;
}

static int load_broker(struct cfg_loader *ld, const config_setting_t *g)
{
	struct cfg *cfg = ld->cfg;
	const char *exchange = DEFAULT_EXCHANGE;
	const char *prefix = DEFAULT_PREFIX;
	const char *ca_file = NULL;
	const char *mgmt_url = NULL;
	const config_setting_t *at = NULL;
	long long heartbeat = cfg_int_keys[I_HEARTBEAT].def;

	cfg_set_where(ld, "broker.");
	if (g && cfg_check_keys(ld, g, broker_keys, "broker") != 0)
		return -1;
	if (load_broker_urls(ld, g ? config_setting_get_member(g, "url") : NULL) != 0)
		return -1;
	if (g) {
		if (config_setting_get_member(g, "management_url") &&
		    load_management_url(ld, g, &mgmt_url) != 0)
			return -1;
		if (config_setting_get_member(g, "ca_file")) {
			if (cfg_get_string(ld, g, "ca_file", &ca_file, &at) != 0)
				return -1;
			if (!*ca_file || access(ca_file, R_OK) != 0)
				return cfg_fail(ld, at, "ca_file must name a readable PEM file");
		}
		if (get_amqp_name(ld, g, "exchange", EXCHANGE_MAX, &exchange) != 0 ||
		    get_amqp_name(ld, g, "prefix", PREFIX_MAX, &prefix) != 0)
			return -1;
		if (cfg_get_int(ld, g, &cfg_int_keys[I_HEARTBEAT], &heartbeat) != 0)
			return -1;
	}
	cfg->heartbeat_s = (int)heartbeat;
	if (cfg_dup(ld, &cfg->exchange, exchange) != 0 || cfg_dup(ld, &cfg->prefix, prefix) != 0 ||
	    (ca_file && cfg_dup(ld, &cfg->ca_file, ca_file) != 0) ||
	    (mgmt_url && cfg_dup(ld, &cfg->management_url, mgmt_url) != 0))
		return -1;
	return 0;
}

/* Queue names derive from the canonical labels, so two delays that format
 * alike ("60s" and "1m") would share a queue. */
static int load_delays(struct cfg_loader *ld, const config_setting_t *s)
{
	struct cfg *cfg = ld->cfg;
	char buf[ECHO_MAX + 4];
	char label[32];
	int n, i, j;

	if (cfg_check_string_array(ld, s, "retry_delays", "durations") != 0)
		return -1;
	n = config_setting_length(s);
	if (n < 1 || n > CFG_MAX_DELAYS)
		return cfg_fail(ld, s, "retry_delays must hold 1 to %d durations", CFG_MAX_DELAYS);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *text = config_setting_get_string(e);
		long ms;

		if (cfg_parse_duration(text, &ms) != 0)
			return cfg_fail(
			    ld, e,
			    "retry_delays: \"%s\" is not a duration (a whole number of ms, "
			    "s, m or h, at most 24h, e.g. \"30s\")",
			    cfg_echo(text, buf));
		for (j = 0; j < i; j++) {
			if (cfg->retry_delays_ms[j] != ms)
				continue;
			cfg_format_duration(ms, label, sizeof(label));
			return cfg_fail(ld, e,
					"retry_delays: \"%s\" repeats delay %d (%s); each delay "
					"names its own queue",
					cfg_echo(text, buf), j + 1, label);
		}
		cfg->retry_delays_ms[i] = ms;
		cfg->n_delays = (size_t)i + 1;
	}
	return 0;
}

static int load_delivery(struct cfg_loader *ld, const config_setting_t *g)
{
	struct cfg *cfg = ld->cfg;
	long long timeout = cfg_int_keys[I_TIMEOUT].def;
	long long inflight = cfg_int_keys[I_INFLIGHT].def;
	long long body = cfg_int_keys[I_BODY].def;
	long long limit = cfg_int_keys[I_LIMIT].def;
	long long parked = cfg_int_keys[I_PARKED].def;
	const config_setting_t *delays = NULL;
	size_t i;

	cfg_set_where(ld, "delivery.");
	if (g) {
		if (cfg_check_keys(ld, g, delivery_keys, "delivery") != 0 ||
		    cfg_get_int(ld, g, &cfg_int_keys[I_TIMEOUT], &timeout) != 0 ||
		    cfg_get_int(ld, g, &cfg_int_keys[I_INFLIGHT], &inflight) != 0 ||
		    cfg_get_int(ld, g, &cfg_int_keys[I_BODY], &body) != 0 ||
		    cfg_get_int(ld, g, &cfg_int_keys[I_LIMIT], &limit) != 0 ||
		    cfg_get_int(ld, g, &cfg_int_keys[I_PARKED], &parked) != 0 ||
		    cfg_load_egress(ld, g, &cfg->egress) != 0)
			return -1;
		delays = config_setting_get_member(g, "retry_delays");
	}
	cfg->timeout_ms = (long)timeout;
	cfg->max_in_flight = (int)inflight;
	cfg->max_body_bytes = (size_t)body;
	cfg->delivery_limit = (int)limit;
	cfg->parked_max_length = (long)parked;
	if (delays)
		return load_delays(ld, delays);
	for (i = 0; i < sizeof(default_delays) / sizeof(default_delays[0]); i++) {
		if (cfg_parse_duration(default_delays[i], &cfg->retry_delays_ms[i]) != 0)
			return cfg_fail_at(ld, 0, "built-in retry_delays are invalid");
	}
	cfg->n_delays = i;
	return 0;
}

/* The top-level breaker group: the defaults of every subscription. */
static int load_breaker(struct cfg_loader *ld, const config_setting_t *g)
{
	cfg_breaker_defaults(&ld->cfg->breaker);
	cfg_set_where(ld, "%s", "");
	return cfg_load_breaker(ld, g, &ld->cfg->breaker);
}

/* metrics.listen: absent or "" is no listener. */
/* 127.0.0.0/8 or ::1: reachable from this host only. */
static bool listen_is_loopback(const struct url_listen *a)
{
	if (a->family == AF_INET6)
		return strcmp(a->host, "::1") == 0;
	return strncmp(a->host, "127.", 4) == 0;
}

static int load_metrics(struct cfg_loader *ld, const config_setting_t *g)
{
	const config_setting_t *at = NULL;
	const char *listen = NULL;
	struct url_listen addr;
	char buf[ECHO_MAX + 4];

	cfg_set_where(ld, "metrics.");
	if (!g)
		return 0;
	if (cfg_check_keys(ld, g, metrics_keys, "metrics") != 0 ||
	    cfg_get_string(ld, g, "listen", &listen, &at) != 0)
		return -1;
	if (!at || listen[0] == '\0')
		return 0;
	if (url_listen_parse(listen, &addr) != 0)
		return cfg_fail(ld, at,
				"listen: \"%s\" is not a listen address: host:port with an IPv4 "
				"address, [IPv6 address] or localhost, and a port 0-65535 (e.g. "
				"\"127.0.0.1:9464\")",
				cfg_echo(listen, buf));
	if (!listen_is_loopback(&addr) &&
	    cfg_add_warning(ld, at,
			    "listen: %s is not a loopback address: /metrics, /healthz and /readyz "
			    "have no authentication and no TLS; make sure only the scraper can reach it",
			    cfg_echo(listen, buf)) != 0)
		return -1;
	return cfg_dup(ld, &ld->cfg->metrics_listen, listen);
}

static int load_log(struct cfg_loader *ld, const config_setting_t *g)
{
	const config_setting_t *at = NULL;

	cfg_set_where(ld, "log.");
	ld->cfg->log_level = LOGL_INFO;
	if (!g)
		return 0;
	if (cfg_check_keys(ld, g, log_keys, "log") != 0)
		return -1;
	at = config_setting_get_member(g, "level");
	if (at && (config_setting_type(at) != CONFIG_TYPE_STRING ||
		   !log_parse_level(config_setting_get_string(at), &ld->cfg->log_level)))
		return cfg_fail(ld, at,
				"level must be one of \"debug\", \"info\", \"warn\", \"error\"");
	return 0;
}

/* Reads the file ourselves: errno for "cannot read", and the raw text for
 * prescan. On success *text (caller wipes and frees) holds len bytes. */
static int read_text(struct cfg_loader *ld, char **text, size_t *len)
{
	int r = cfg_slurp(ld->path, CONFIG_FILE_MAX, text, len);

	if (r == -2)
		return cfg_fail_at(ld, 0, "larger than %d bytes", CONFIG_FILE_MAX);
	if (r != 0)
		return cfg_fail_at(ld, 0, "cannot read: %s", strerror(errno));
	/* libconfig reads a C string and would stop at a NUL without a word. */
	if (memchr(*text, '\0', *len))
		return cfg_fail_at(ld, 0, "contains a NUL byte");
	return cfg_prescan(ld, *text);
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	return cfg_load_flags(path, 0, out, err, errlen);
}

int cfg_load_flags(const char *path, unsigned flags, struct cfg **out, char *err, size_t errlen)
{
	struct cfg_loader ld = {.path = path,
				.err = err,
				.errlen = err ? errlen : 0,
				.no_secrets = (flags & CFG_NO_SECRETS) != 0};
	const config_setting_t *root, *broker, *delivery, *breaker, *metrics, *history, *logg;
	char *text = NULL;
	size_t len = 0;
	config_t lc;
	bool lc_live = false;
	int rc = -1;

	if (err && errlen)
		err[0] = '\0';
	if (out)
		*out = NULL;
	if (!path || !out) {
		ld.path = path ? path : "(null)";
		cfg_fail_at(&ld, 0, "no config file given");
		goto out;
	}
	ld.cfg = calloc(1, sizeof(*ld.cfg));
	if (!ld.cfg) {
		cfg_oom(&ld);
		goto out;
	}
	if (cfg_dup(&ld, &ld.cfg->path, path) != 0)
		goto out;
	if (read_text(&ld, &text, &len) != 0)
		goto out;
	config_init(&lc);
	lc_live = true;
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		int line = config_error_line(&lc);

		cfg_fail_at(&ld, line > 0 ? (unsigned)line : 0, "%s",
			    config_error_text(&lc) ? config_error_text(&lc) : "cannot parse");
		goto out;
	}
	root = config_root_setting(&lc);
	if (cfg_check_keys(&ld, root, top_keys, NULL) != 0 ||
	    cfg_get_group(&ld, root, "broker", &broker) != 0 ||
	    cfg_get_group(&ld, root, "delivery", &delivery) != 0 ||
	    cfg_get_group(&ld, root, "breaker", &breaker) != 0 ||
	    cfg_get_group(&ld, root, "metrics", &metrics) != 0 ||
	    cfg_get_group(&ld, root, "history", &history) != 0 ||
	    cfg_get_group(&ld, root, "log", &logg) != 0)
		goto out;
	if (load_broker(&ld, broker) != 0 || load_delivery(&ld, delivery) != 0 ||
	    load_breaker(&ld, breaker) != 0 || load_metrics(&ld, metrics) != 0 ||
	    cfg_load_history(&ld, history) != 0 || load_log(&ld, logg) != 0 ||
	    cfg_load_subs(&ld, root) != 0)
		goto out;
	*out = ld.cfg;
	ld.cfg = NULL;
	rc = 0;
out:
	if (lc_live) {
		cfg_scrub_tree(&lc);
		config_destroy(&lc);
	}
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	cfg_free(ld.cfg);
	return rc;
}
