/* config: the libconfig file of DESIGN section 5, loaded and validated. */
#ifndef HSBRIDGE_CONFIG_H
#define HSBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "hsbridge/breaker.h"
#include "hsbridge/log.h"

#define CFG_NAME_MAX 64
#define CFG_MAX_DELAYS 16

/* A custom request header (the headers group of a subscription). */
enum cfg_header_source { CFG_HDR_INLINE, CFG_HDR_FILE, CFG_HDR_ENV };
struct cfg_header {
	char *name;  /* an HTTP token, as written */
	char *value; /* NULL under CFG_NO_SECRETS when from a file or variable */
	enum cfg_header_source source;
};

/* How a subscription's requests leave (issue 12): client certificate, CA,
 * proxy, rate limit, private-address guard. The delivery group holds the
 * defaults; a subscription's own keys replace them one by one. */
struct cfg_egress {
	/* proxy: NULL: none, whatever the environment says; CFG_PROXY_ENV:
	 * libcurl's http_proxy, https_proxy, all_proxy, no_proxy; else a URL
	 * (it may hold a password: never print it, see proxy_shown) */
	char *proxy;
	char *proxy_shown;	 /* scheme://host:port of proxy, no credentials */
	char *tls_ca_file;	 /* PEM bundle for https endpoints; NULL: the system's */
	char *tls_client_cert;	 /* PEM; with tls_client_key, or neither */
	char *tls_client_key;	 /* PEM, maybe encrypted */
	char *tls_client_key_password; /* from _env or _file; NULL: none or not read */
	char *tls_client_subject; /* the certificate's subject (RFC 2253), for check */
	bool allow_private_addresses; /* false: the guard refuses them (netguard.h) */
	long max_per_second;	      /* 0: no limit */
};
#define CFG_PROXY_ENV "env"

struct cfg_sub {
	char *name;    /* [a-z0-9][a-z0-9_-]{0,63} */
	char *url;     /* http:// or https:// */
	char **events; /* topic patterns, n_events >= 1 */
	size_t n_events;
	char *secret;		 /* resolved from secret, secret_file or secret_env */
	char **previous_secrets; /* still signed with in webhook-signature */
	size_t n_previous;
	/* Ed25519 ("v1a"): a whsk_ key from signing_key, signing_key_file or
	 * signing_key_env; NULL: none (or not read under CFG_NO_SECRETS). */
	char *signing_key;
	bool has_signing_key; /* one of the three is set, even when not read */
	char **previous_signing_keys; /* still signed with, after signing_key */
	size_t n_previous_signing;
	struct cfg_header *headers; /* sent with every request, in this order */
	size_t n_headers;
	bool active;
	int max_in_flight; /* resolved: own value or delivery.max_in_flight */
	long timeout_ms;   /* resolved: own value or delivery.timeout_ms */
	/* resolved: own value or delivery.parked_max_length; 0: no limit */
	long parked_max_length;
	/* resolved: its own `breaker` keys, else the global group's */
	struct breaker_conf breaker;
	/* resolved: its own keys, else delivery's */
	struct cfg_egress egress;
	int line;	   /* where the subscription starts in the file */
};

/* history (issue 11): every attempt recorded in the stream queue
 * <prefix>.attempts, declared with the topology when enabled. */
struct cfg_history {
	bool enabled;
	long long max_age_s; /* x-max-age: records older than this are dropped */
	long long max_bytes; /* x-max-length-bytes: the stream's size bound */
	long response_bytes; /* of the endpoint's answer in a record; 0: none */
};

struct cfg {
	char *path;
	/* broker */
	/* broker.url: one URL, or the nodes of a cluster (1 to NODES_MAX), in
	 * the file's order; each holds the broker password */
	char **broker_urls;
	size_t n_broker_urls;
	char *ca_file;	      /* PEM bundle for amqps://; NULL: the system's */
	char *management_url; /* for `status`; NULL: derived from the node reached */
	char *exchange;
	char *prefix;
	int heartbeat_s;
	/* delivery */
	long timeout_ms;
	long retry_delays_ms[CFG_MAX_DELAYS];
	size_t n_delays;
	int max_in_flight;
	size_t max_body_bytes;
	int delivery_limit;
	long parked_max_length; /* 0: no limit */
	struct cfg_egress egress; /* the defaults of every subscription */
	/* breaker: the defaults every subscription starts from */
	struct breaker_conf breaker;
	/* metrics: "host:port" of the HTTP listener (url_listen_parse); NULL:
	 * none (the key absent or "") */
	char *metrics_listen;
	struct cfg_history history;
	/* log */
	enum log_level log_level;
	struct cfg_sub *subs;
	size_t n_subs;
	/* Non-fatal findings ("file:line: event "x.y" is not in the catalogue"). */
	char **warnings;
	size_t n_warnings;
};

/* Loads and validates path. On success returns 0 and *out (caller frees with
 * cfg_free). On failure returns -1 and writes one line "file:line: what is
 * wrong" (or "file: what is wrong" when no line applies) into err. Secrets
 * never appear in err. */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* cfg_load's flags. CFG_NO_SECRETS: for commands that sign nothing
 * (status, topology, publish): secret_file and secret_env are checked for
 * form but not read, so an operator without the service's environment or
 * file permissions can run them; every subscription's secret is then NULL. */
enum { CFG_NO_SECRETS = 1 };
int cfg_load_flags(const char *path, unsigned flags, struct cfg **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void cfg_free(struct cfg *cfg);

/* "200ms", "30s", "1m", "1h" (a whole positive number and a unit) into
 * milliseconds. Returns 0, or -1 on anything else. */
int cfg_parse_duration(const char *s, long *ms) __attribute__((warn_unused_result));

/* The canonical label of a delay, used in queue names: the largest unit that
 * divides it (3600000 -> "1h", 90000 -> "90s", 200 -> "200ms"). */
void cfg_format_duration(long ms, char *buf, size_t len);

/* A retention age in RabbitMQ's x-max-age form, the largest unit that
 * divides it: 604800 -> "7D", 7200 -> "2h", 90 -> "90s". */
void cfg_format_age(long long seconds, char *buf, size_t len);
/* A byte count with the largest binary unit that divides it: "1GiB". */
void cfg_format_bytes(long long bytes, char *buf, size_t len);
/* Why a custom header name or value cannot be sent (a phrase to follow
 * "the name"/"the value", never repeating it), or NULL when it can. Names
 * are HTTP tokens of at most 64 characters and none of the bridge's own
 * headers (webhook-*, X-HealthSync-*, Content-Type, Content-Length, Host,
 * User-Agent, Expect, ...), compared without regard to case. Values are
 * 1 to 4096 bytes without control characters (tab aside) or white space at
 * either end. */
const char *cfg_header_name_problem(const char *name);
const char *cfg_header_value_problem(const char *value);

/* Overwrites in buf (len bytes; with cut, the start of a longer answer)
 * every echo of sub's header values, in the forms redact_echo knows: an
 * endpoint's answer that echoes the request would otherwise carry them
 * (credentials, often) into the attempts stream and onto the terminal. */
void cfg_scrub_header_echoes(const struct cfg_sub *sub, char *buf, size_t len, bool cut);

/* The subscription called name, or NULL. */
const struct cfg_sub *cfg_find_sub(const struct cfg *cfg, const char *name);

#endif
