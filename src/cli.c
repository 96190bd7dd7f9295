/* cli: argument parsing and the one-shot commands; `run` hands over to the
 * bridge. */
#include "hsbridge/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hsbridge/bridge.h"
#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/event.h"
#include "hsbridge/log.h"

enum {
	EX_OK_ = 0,
	EX_USAGE_ = 64,
	EX_DATAERR_ = 65,
	EX_UNAVAILABLE_ = 69,
	EX_SOFTWARE_ = 70,
	EX_TEMPFAIL_ = 75,
	EX_CONFIG_ = 78,
};

#define CONFIRM_TIMEOUT_MS 10000

static const char usage_text[] =
	"usage: hsbridge [-c FILE] [COMMAND]\n"
	"\n"
	"commands:\n"
	"  run                  the bridge, in the foreground (default)\n"
	"  check                validate the config and print what the bridge would do\n"
	"  topology             declare exchanges, queues and bindings, then exit\n"
	"  publish TYPE [JSON]  publish an event as a service would (JSON from the\n"
	"                       argument or standard input)\n"
	"\n"
	"The config is FILE, else $HSBRIDGE_CONFIG, else etc/hsbridge.conf.\n";

static void usage(FILE *to)
{
	fputs(usage_text, to);
}

static void on_stop_signal(int sig)
{
	(void)sig;
	bridge_request_stop();
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the wait in the loop returns and sees the flag. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A URL for display: no user, no password, no query (which may carry a
 * token). */
static void redact_url(const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *out = NULL;

	snprintf(buf, len, "(unprintable URL)");
	if (!u)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(u, CURLUPART_QUERY, NULL, 0);
		if (curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK)
			snprintf(buf, len, "%s", out);
	}
	curl_free(out);
	curl_url_cleanup(u);
}

/* The broker URL without its credentials: scheme://host:port/vhost. */
static void redact_amqp_url(const char *url, char *buf, size_t len)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');

	if (at && (!slash || at < slash))
		host = at + 1;
	snprintf(buf, len, "%.*s%s", scheme_end ? (int)(scheme_end - url + 3) : 0, url, host);
}

static int cmd_check(const struct cfg *cfg)
{
	char buf[BRK_NAME_MAX + 64];
	char label[32];
	char name[BRK_NAME_MAX];

	printf("config %s is valid\n", cfg->path);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		printf("warning: %s\n", cfg->warnings[i]);
	redact_amqp_url(cfg->broker_url, buf, sizeof(buf));
	printf("broker:   %s (heartbeat %ds)\n", buf, cfg->heartbeat_s);
	printf("exchange: %s (topic; services publish here, routing key = event type)\n",
	       cfg->exchange);
	printf("delivery: timeout %ld ms, up to %d in flight per subscription, bodies up to %zu "
	       "bytes, delivery limit %d\n",
	       cfg->timeout_ms, cfg->max_in_flight, cfg->max_body_bytes, cfg->delivery_limit);
	printf("retries:  attempt 1 at once");
	for (size_t i = 0; i < cfg->n_delays; i++) {
		cfg_format_duration(cfg->retry_delays_ms[i], label, sizeof(label));
		printf(", attempt %zu after %s", i + 2, label);
	}
	printf("; parked after %zu failed attempts\n", cfg->n_delays + 1);
	for (size_t i = 0; i < cfg->n_delays; i++) {
		brk_retry_name(cfg, i, name, sizeof(name));
		printf("  retry exchange + queue %s (ttl %ld ms)\n", name, cfg->retry_delays_ms[i]);
	}
	printf("subscriptions: %zu\n", cfg->n_subs);
	for (size_t i = 0; i < cfg->n_subs; i++) {
		const struct cfg_sub *s = &cfg->subs[i];

		printf("\n%s (%s)\n", s->name,
		       s->active ? "active" : "inactive: queue kept, no bindings, no consumer");
		redact_url(s->url, buf, sizeof(buf));
		printf("  url:      %s\n", buf);
		printf("  events:  ");
		for (size_t j = 0; j < s->n_events; j++)
			printf(" %s%s", s->events[j], j + 1 < s->n_events ? "," : "");
		printf("\n");
		brk_sub_queue(cfg, s->name, name, sizeof(name));
		printf("  queue:    %s%s\n", name, s->active ? "" : " (unbound)");
		brk_parked_queue(cfg, s->name, name, sizeof(name));
		printf("  parked:   %s\n", name);
		printf("  limits:   %d in flight, timeout %ld ms\n", s->max_in_flight, s->timeout_ms);
		printf("  secrets:  1 current, %zu previous\n", s->n_previous);
	}
	return EX_OK_;
}

static int cmd_topology(const struct cfg *cfg)
{
	struct brk *b = NULL;
	char err[BRK_ERR_MAX];
	int rc;

	rc = brk_connect(cfg->broker_url, cfg->heartbeat_s, "hsbridge topology", &b, err,
			 sizeof(err));
	if (rc == 0)
		rc = brk_channel_open(b, 1, err, sizeof(err));
	if (rc == 0)
		rc = brk_declare_topology(b, 1, cfg, err, sizeof(err));
	brk_close(b);
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return rc == BRK_ERR_CHANNEL ? EX_CONFIG_ : EX_UNAVAILABLE_;
	}
	printf("topology declared: exchange %s, %zu retry queues, %zu subscriptions\n",
	       cfg->exchange, cfg->n_delays, cfg->n_subs);
	return EX_OK_;
}

/* All of standard input, NUL-terminated. NULL on error. */
static char *read_all(FILE *in, size_t *len)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, in);

		n += got;
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (!buf || ferror(in)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool valid_type(const char *type)
{
	return ev_valid_pattern(type) && !strchr(type, '*') && !strchr(type, '#');
}

/* Waits for the confirm of the one message published on channel 1. */
static int await_confirm(struct brk *b, bool *returned, char *err, size_t errlen)
{
	struct timespec start, now;
	struct brk_event ev;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long elapsed;

		if (brk_wait(b, &ev, 500, err, errlen) != 0)
			return EX_UNAVAILABLE_;
		if (ev.kind == BRK_RETURN) {
			*returned = true;
		} else if (ev.kind == BRK_CONFIRM) {
			bool ack = ev.ack;

			brk_event_clear(&ev);
			if (!ack)
				snprintf(err, errlen, "the broker refused the event (nack)");
			return ack ? EX_OK_ : EX_TEMPFAIL_;
		}
		brk_event_clear(&ev);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed > CONFIRM_TIMEOUT_MS) {
			snprintf(err, errlen, "no publisher confirm within %d ms", CONFIRM_TIMEOUT_MS);
			return EX_TEMPFAIL_;
		}
	}
}

static int cmd_publish(const struct cfg *cfg, const char *type, const char *json)
{
	struct ev_input in;
	struct ev_event ev;
	amqp_basic_properties_t p;
	struct brk *b = NULL;
	char *input = NULL;
	size_t len;
	char err[BRK_ERR_MAX];
	bool returned = false;
	long long now = (long long)time(NULL);
	int rc;

	memset(&ev, 0, sizeof(ev));
	if (!valid_type(type)) {
		fprintf(stderr, "hsbridge: \"%s\" is not an event type (words of a-z0-9_- joined by "
				"dots, e.g. document.uploaded)\n", type);
		return EX_DATAERR_;
	}
	if (json) {
		input = strdup(json);
		len = strlen(json);
	} else {
		input = read_all(stdin, &len);
	}
	if (!input) {
		fprintf(stderr, "hsbridge: cannot read the event: %s\n", strerror(errno));
		return EX_DATAERR_;
	}
	memset(&in, 0, sizeof(in));
	in.body = input;
	in.len = len;
	in.max_body = cfg->max_body_bytes;
	in.type_prop = type;
	in.routing_key = type;
	in.timestamp = now;
	in.now = now;
	switch (ev_prepare(&in, &ev)) {
	case EV_OK:
		break;
	case EV_TOO_LARGE:
	case EV_INVALID:
		fprintf(stderr, "hsbridge: invalid event: %s\n", ev.reason);
		rc = EX_DATAERR_;
		goto out;
	}
	if (strcmp(ev.type, type) != 0) {
		fprintf(stderr, "hsbridge: invalid event: its type \"%s\" differs from %s\n", ev.type,
			type);
		rc = EX_DATAERR_;
		goto out;
	}

	rc = brk_connect(cfg->broker_url, cfg->heartbeat_s, "hsbridge publish", &b, err,
			 sizeof(err));
	if (rc == 0)
		rc = brk_channel_open(b, 1, err, sizeof(err));
	if (rc == 0)
		rc = brk_confirm_select(b, 1, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		rc = EX_UNAVAILABLE_;
		goto out;
	}
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.message_id = amqp_cstring_bytes(ev.id);
	p.timestamp = (uint64_t)now;
	p.type = amqp_cstring_bytes(type);
	/* mandatory: a returned message tells that no subscription captured it. */
	if (brk_publish(b, 1, cfg->exchange, type, true, &p, ev.body, ev.len) != 0) {
		fprintf(stderr, "hsbridge: connection lost while publishing\n");
		rc = EX_UNAVAILABLE_;
		goto out;
	}
	rc = await_confirm(b, &returned, err, sizeof(err));
	if (rc != EX_OK_) {
		fprintf(stderr, "hsbridge: %s\n", err);
		goto out;
	}
	if (returned)
		fprintf(stderr, "hsbridge: warning: no queue is bound to %s on %s, so no "
				"subscription captured this event\n", type, cfg->exchange);
	printf("%s\n", ev.id);
out:
	brk_close(b);
	ev_free(&ev);
	free(input);
	return rc;
}

static int cmd_run(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		log_line(LOG_WARN, "config", LOG_S("warning", cfg->warnings[i]));
	install_signals();
	return bridge_run(cfg);
}

int cli_main(int argc, char **argv)
{
	const char *path = getenv("HSBRIDGE_CONFIG");
	const char *cmd = "run";
	struct cfg *cfg = NULL;
	char err[1024];
	int opt;
	int rc;

	if (!path || !*path)
		path = "etc/hsbridge.conf";
	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK_;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return EX_OK_;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0 && strcmp(cmd, "topology") != 0 &&
	    strcmp(cmd, "publish") != 0) {
		fprintf(stderr, "hsbridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EX_USAGE_;
	}
	if (strcmp(cmd, "publish") == 0 ? (argc - optind < 1 || argc - optind > 2) :
					  argc != optind) {
		usage(stderr);
		return EX_USAGE_;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "hsbridge: libcurl failed to initialise\n");
		return EX_SOFTWARE_;
	}
	if (cfg_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		rc = EX_CONFIG_;
		goto out;
	}
	log_set_level(cfg->log_level);
	if (strcmp(cmd, "check") == 0)
		rc = cmd_check(cfg);
	else if (strcmp(cmd, "topology") == 0)
		rc = cmd_topology(cfg);
	else if (strcmp(cmd, "publish") == 0)
		rc = cmd_publish(cfg, argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL);
	else
		rc = cmd_run(cfg);
out:
	cfg_free(cfg);
	curl_global_cleanup();
	return rc;
}
