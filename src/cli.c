/* cli: argument parsing and the one-shot commands; `run` hands over to the
 * bridge. */
#include "hsbridge/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hsbridge/bridge.h"
#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/dispatch.h"
#include "hsbridge/event.h"
#include "hsbridge/log.h"
#include "hsbridge/mgmt.h"
#include "hsbridge/url.h"

#define CONFIRM_TIMEOUT_MS 10000

static const char usage_text[] =
    "usage: hsbridge [-c FILE] [COMMAND]\n"
    "\n"
    "commands:\n"
    "  run                  the bridge, in the foreground (default)\n"
    "  check                validate the config and print what the bridge would do\n"
    "  topology             declare exchanges, queues and bindings, then exit\n"
    "  status               per subscription: ready and parked messages, consumers;\n"
    "                       messages waiting in the retry queues\n"
    "  publish TYPE [JSON]  publish an event as a service would (JSON from the\n"
    "                       argument or standard input)\n"
    "  test-event SUB       POST a signed webhook.test event to SUB now; print the\n"
    "                       status, time and response body\n"
    "  replay SUB [--limit N]  move parked messages back into SUB's queue, attempts\n"
    "                       reset\n"
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

static void on_reload_signal(int sig)
{
	(void)sig;
	bridge_request_reload();
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
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
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

/* The broker URL without its password: scheme://host:port, vhost and user,
 * from the parsed URL so that no spelling of the password slips through. */
static void redact_amqp_url(const char *url, char *buf, size_t len)
{
	struct url_amqp u;

	if (url_amqp_parse(url, &u) != 0) {
		snprintf(buf, len, "(invalid URL)");
		return;
	}
	snprintf(buf, len, "%s://%s:%d, vhost %s, user %s", u.ci.ssl ? "amqps" : "amqp", u.ci.host,
		 u.ci.port, u.ci.vhost, u.ci.user);
	url_amqp_clear(&u);
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
		printf("  limits:   %d in flight, timeout %ld ms\n", s->max_in_flight,
		       s->timeout_ms);
		printf("  secrets:  1 current, %zu previous\n", s->n_previous);
	}
	return EX_OK;
}

static int connect_channel(const struct cfg *cfg, const char *name, bool confirm, struct brk **b)
{
	char err[BRK_ERR_MAX];
	int rc;

	rc =
	    brk_connect(cfg->broker_url, cfg->heartbeat_s, cfg->ca_file, name, b, err, sizeof(err));
	if (rc == 0)
		rc = brk_channel_open(*b, 1, err, sizeof(err));
	if (rc == 0 && confirm)
		rc = brk_confirm_select(*b, 1, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		brk_close(*b);
		*b = NULL;
		return EX_UNAVAILABLE;
	}
	return EX_OK;
}

static int cmd_topology(const struct cfg *cfg)
{
	struct brk *b = NULL;
	char err[BRK_ERR_MAX];
	int rc = connect_channel(cfg, "hsbridge topology", false, &b);

	if (rc != EX_OK)
		return rc;
	rc = brk_declare_topology(b, 1, cfg, err, sizeof(err));
	brk_close(b);
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return rc == BRK_ERR_CHANNEL ? EX_CONFIG : EX_UNAVAILABLE;
	}
	printf("topology declared: exchange %s, %zu retry queues, %zu subscriptions\n",
	       cfg->exchange, cfg->n_delays, cfg->n_subs);
	return EX_OK;
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
			return EX_UNAVAILABLE;
		if (ev.kind == BRK_RETURN) {
			*returned = true;
		} else if (ev.kind == BRK_CONFIRM) {
			bool ack = ev.ack;

			brk_event_clear(&ev);
			if (!ack)
				snprintf(err, errlen, "the broker refused the event (nack)");
			return ack ? EX_OK : EX_TEMPFAIL;
		}
		brk_event_clear(&ev);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed > CONFIRM_TIMEOUT_MS) {
			snprintf(err, errlen, "no publisher confirm within %d ms",
				 CONFIRM_TIMEOUT_MS);
			return EX_TEMPFAIL;
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
		fprintf(stderr,
			"hsbridge: \"%s\" is not an event type (words of a-z0-9_- joined by "
			"dots, e.g. document.uploaded)\n",
			type);
		return EX_DATAERR;
	}
	if (json) {
		input = strdup(json);
		len = strlen(json);
	} else {
		input = read_all(stdin, &len);
	}
	if (!input) {
		fprintf(stderr, "hsbridge: cannot read the event: %s\n", strerror(errno));
		return EX_DATAERR;
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
		rc = EX_DATAERR;
		goto out;
	}
	if (strcmp(ev.type, type) != 0) {
		fprintf(stderr, "hsbridge: invalid event: its type \"%s\" differs from %s\n",
			ev.type, type);
		rc = EX_DATAERR;
		goto out;
	}

	rc = connect_channel(cfg, "hsbridge publish", true, &b);
	if (rc != EX_OK)
		goto out;
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
		rc = EX_UNAVAILABLE;
		goto out;
	}
	rc = await_confirm(b, &returned, err, sizeof(err));
	if (rc != EX_OK) {
		fprintf(stderr, "hsbridge: %s\n", err);
		goto out;
	}
	if (returned)
		fprintf(stderr,
			"hsbridge: warning: no queue is bound to %s on %s, so no "
			"subscription captured this event\n",
			type, cfg->exchange);
	printf("%s\n", ev.id);
out:
	brk_close(b);
	ev_free(&ev);
	free(input);
	return rc;
}

/* What the management API adds to a status: unacked counts and the list of
 * queues, for orphans. Optional: without it status shows what AMQP can. */
struct status_extra {
	struct mgmt_queue *queues;
	size_t n;
	bool ok;
};

/* Prints one queue's depth; a missing queue is said, not fatal. */
static int print_queue(struct brk *b, const struct status_extra *x, const char *label,
		       const char *queue, bool consumers)
{
	uint32_t messages = 0, n_consumers = 0;
	char err[BRK_ERR_MAX];
	const struct mgmt_queue *m = x->ok ? mgmt_find(x->queues, x->n, queue) : NULL;
	int rc = brk_queue_counts(b, 1, queue, &messages, &n_consumers, err, sizeof(err));

	if (rc == BRK_ERR_CHANNEL) {
		printf("  %-8s %s: missing (run hsbridge topology)\n", label, queue);
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return rc;
	}
	if (consumers && m)
		printf("  %-8s %s: %u ready, %lld unacked, %u consumers\n", label, queue, messages,
		       m->unacked, n_consumers);
	else if (consumers)
		printf("  %-8s %s: %u ready, %u consumers\n", label, queue, messages, n_consumers);
	else
		printf("  %-8s %s: %u\n", label, queue, messages);
	return 0;
}

/* Whether name is a queue this config declares. */
static bool configured_queue(const struct cfg *cfg, const char *name)
{
	char q[BRK_NAME_MAX];

	for (size_t i = 0; i < cfg->n_subs; i++) {
		brk_sub_queue(cfg, cfg->subs[i].name, q, sizeof(q));
		if (strcmp(q, name) == 0)
			return true;
		brk_parked_queue(cfg, cfg->subs[i].name, q, sizeof(q));
		if (strcmp(q, name) == 0)
			return true;
	}
	for (size_t i = 0; i < cfg->n_delays; i++) {
		brk_retry_name(cfg, i, q, sizeof(q));
		if (strcmp(q, name) == 0)
			return true;
	}
	return false;
}

/* Queues under the prefix that the config no longer names: subscriptions
 * removed from it, or delays dropped from the schedule. */
static void print_orphans(const struct cfg *cfg, const struct status_extra *x)
{
	size_t plen = strlen(cfg->prefix);
	bool header = false;

	for (size_t i = 0; i < x->n; i++) {
		const struct mgmt_queue *m = &x->queues[i];

		if (strncmp(m->name, cfg->prefix, plen) != 0 || m->name[plen] != '.' ||
		    configured_queue(cfg, m->name))
			continue;
		if (!header)
			printf("orphaned (not in the config; kept, delete by hand once drained)\n");
		header = true;
		printf("  %-8s %s: %lld ready, %lld unacked, %lld consumers\n", "orphan", m->name,
		       m->ready, m->unacked, m->consumers);
	}
}

static int cmd_status(const struct cfg *cfg)
{
	struct brk *b = NULL;
	struct status_extra x = {0};
	char name[BRK_NAME_MAX];
	char err[256];
	char base[512];
	int rc = connect_channel(cfg, "hsbridge status", false, &b);

	if (rc != EX_OK)
		return rc;
	x.ok = mgmt_list_queues(cfg, &x.queues, &x.n, err, sizeof(err)) == 0;
	for (size_t i = 0; rc == 0 && i < cfg->n_subs; i++) {
		printf("%s (%s)\n", cfg->subs[i].name, cfg->subs[i].active ? "active" : "inactive");
		brk_sub_queue(cfg, cfg->subs[i].name, name, sizeof(name));
		rc = print_queue(b, &x, "queue", name, true);
		brk_parked_queue(cfg, cfg->subs[i].name, name, sizeof(name));
		if (rc == 0)
			rc = print_queue(b, &x, "parked", name, false);
	}
	if (rc == 0 && cfg->n_delays)
		printf("retry queues (all subscriptions)\n");
	for (size_t i = 0; rc == 0 && i < cfg->n_delays; i++) {
		brk_retry_name(cfg, i, name, sizeof(name));
		rc = print_queue(b, &x, "waiting", name, false);
	}
	if (rc == 0 && x.ok) {
		print_orphans(cfg, &x);
	} else if (rc == 0) {
		mgmt_base_url(cfg, base, sizeof(base));
		printf("(no unacked counts or orphaned queues: the management API at %s did not "
		       "answer: %s; set broker.management_url)\n",
		       base, err);
	}
	mgmt_free_queues(x.queues, x.n);
	brk_close(b);
	return rc == 0 ? EX_OK : EX_UNAVAILABLE;
}

static const struct cfg_sub *find_sub_or_complain(const struct cfg *cfg, const char *name)
{
	const struct cfg_sub *s = cfg_find_sub(cfg, name);

	if (!s)
		fprintf(stderr, "hsbridge: no subscription \"%s\" in %s\n", name, cfg->path);
	return s;
}

/* Moves parked messages back, one at a time: each is acked in the parked
 * queue only after the broker confirmed its copy in the subscription queue. */
static int cmd_replay(const struct cfg *cfg, const char *sub_name, long limit)
{
	const struct cfg_sub *s = find_sub_or_complain(cfg, sub_name);
	struct brk *b = NULL;
	char queue[BRK_NAME_MAX], parked[BRK_NAME_MAX];
	char err[BRK_ERR_MAX];
	uint32_t waiting = 0, consumers = 0;
	long moved = 0;
	int rc;

	if (!s)
		return EX_USAGE;
	rc = connect_channel(cfg, "hsbridge replay", true, &b);
	if (rc != EX_OK)
		return rc;
	brk_sub_queue(cfg, s->name, queue, sizeof(queue));
	brk_parked_queue(cfg, s->name, parked, sizeof(parked));
	/* Only what is parked now: a message that is parked again at once (410,
	 * invalid payload) while a bridge runs must not make this loop forever. */
	if (brk_queue_counts(b, 1, parked, &waiting, &consumers, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsbridge: %s: %s\n", parked, err);
		brk_close(b);
		return EX_UNAVAILABLE;
	}
	if (limit < 0 || (unsigned long)limit > waiting)
		limit = (long)waiting;
	while (moved < limit) {
		struct brk_event ev;
		amqp_basic_properties_t p;
		amqp_table_entry_t *kept = NULL;
		bool returned = false;
		int n = 0;

		if (brk_get(b, 1, parked, &ev, err, sizeof(err)) != 0) {
			fprintf(stderr, "hsbridge: %s\n", err);
			rc = EX_UNAVAILABLE;
			break;
		}
		if (ev.kind != BRK_DELIVERY)
			break;
		/* Attempts start over: drop the bookkeeping, keep the rest. */
		p = ev.message.properties;
		if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
			kept = calloc((size_t)p.headers.num_entries + 1, sizeof(*kept));
			for (int i = 0; kept && i < p.headers.num_entries; i++) {
				amqp_table_entry_t *e = &p.headers.entries[i];

				if (!bridge_header_is_bookkeeping(e->key.bytes, e->key.len))
					kept[n++] = *e;
			}
			p.headers.entries = kept;
			p.headers.num_entries = n;
		}
		p._flags &= ~(amqp_flags_t)AMQP_BASIC_EXPIRATION_FLAG;
		p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
		p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
		rc = brk_publish(b, 1, "", queue, true, &p, ev.message.body.bytes,
				 ev.message.body.len);
		free(kept);
		if (rc == 0) {
			rc = await_confirm(b, &returned, err, sizeof(err));
		} else {
			snprintf(err, sizeof(err), "connection lost while publishing");
			rc = EX_UNAVAILABLE;
		}
		if (rc == 0 && returned) {
			snprintf(err, sizeof(err),
				 "queue %s does not exist (run hsbridge topology)", queue);
			rc = EX_UNAVAILABLE;
		}
		if (rc != 0) {
			/* Not acked: the message stays parked. */
			fprintf(stderr, "hsbridge: %s\n", err);
			brk_event_clear(&ev);
			break;
		}
		if (brk_ack(b, 1, ev.delivery_tag) != 0) {
			fprintf(stderr,
				"hsbridge: connection lost while acking; the message may now "
				"be both replayed and parked\n");
			brk_event_clear(&ev);
			rc = EX_UNAVAILABLE;
			break;
		}
		brk_event_clear(&ev);
		moved++;
	}
	brk_close(b);
	printf("replayed %ld message%s from %s to %s\n", moved, moved == 1 ? "" : "s", parked,
	       queue);
	return rc;
}

struct test_result {
	bool done;
	int status;
	long ms;
	char error[CURL_ERROR_SIZE];
	char body[DISP_BODY_MAX + 1];
};

static void on_test_done(void *user, const struct disp_result *res, void *arg)
{
	struct test_result *t = user;

	(void)arg;
	t->done = true;
	if (!res)
		return;
	t->status = res->status;
	t->ms = res->ms;
	snprintf(t->error, sizeof(t->error), "%s", res->error);
	memcpy(t->body, res->body, res->body_len);
	t->body[res->body_len] = '\0';
}

static const char test_event_fmt[] =
    "{\"id\":\"%s\",\"type\":\"webhook.test\",\"created_at\":\"%s\",\"data\":"
    "{\"object\":{\"subscription\":\"%s\",\"message\":\"This is a test event from "
    "HealthSync.\"}}}";

/* The dashboard's "Send Test Event": a signed webhook.test POST, now,
 * outside the queues. */
static int cmd_test_event(const struct cfg *cfg, const char *sub_name)
{
	const struct cfg_sub *s = find_sub_or_complain(cfg, sub_name);
	struct disp *d = NULL;
	struct disp_request req;
	struct test_result t;
	char id[40], created[32], delivery[37];
	char *body = NULL;
	long long now = (long long)time(NULL);
	int rc = EX_SOFTWARE;
	int n;

	if (!s)
		return EX_USAGE;
	memset(&t, 0, sizeof(t));
	if (ev_new_id(id, sizeof(id)) != 0)
		goto out;
	ev_format_time(now, created, sizeof(created));
	ev_delivery_id(s->name, id, delivery);
	/* id, time and name are of safe characters: no JSON escaping needed. */
	n = snprintf(NULL, 0, test_event_fmt, id, created, s->name);
	body = malloc((size_t)n + 1);
	if (!body)
		goto out;
	snprintf(body, (size_t)n + 1, test_event_fmt, id, created, s->name);
	d = disp_new();
	if (!d)
		goto out;
	req.url = s->url;
	req.body = body;
	req.len = (size_t)n;
	req.headers = bridge_request_headers(s, "webhook.test", delivery, 1, body, (size_t)n, now);
	req.timeout_ms = s->timeout_ms;
	req.user = &t;
	if (!req.headers || disp_submit(d, &req) != 0)
		goto out;
	while (!t.done) {
		disp_wait(d, NULL, 0, 100);
		disp_collect(d, on_test_done, NULL);
	}
	printf("event:    %s (webhook.test)\ndelivery: %s\n", id, delivery);
	if (t.status == 0) {
		printf("status:   no response (%s)\ntime:     %ld ms\n", t.error, t.ms);
		rc = EX_TEMPFAIL;
		goto out;
	}
	printf("status:   %d\ntime:     %ld ms\nbody:     %s\n", t.status, t.ms, t.body);
	rc = (t.status >= 200 && t.status <= 299) ? EX_OK : EX_TEMPFAIL;
out:
	disp_free(d);
	free(body);
	return rc;
}

static int cmd_run(struct cfg **cfgp)
{
	for (size_t i = 0; i < (*cfgp)->n_warnings; i++)
		log_line(LOGL_WARN, "config", LOG_S("warning", (*cfgp)->warnings[i]));
	install_signals();
	return bridge_run(cfgp);
}

static bool known_command(const char *cmd)
{
	static const char *const cmds[] = {"run",     "check",	    "topology", "status",
					   "publish", "test-event", "replay"};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i]) == 0)
			return true;
	}
	return false;
}

/* The operands after the command: publish TYPE [JSON], test-event SUB,
 * replay SUB [--limit N], none for the rest. Returns 0 or -1. */
static int parse_operands(const char *cmd, int argc, char **argv, const char **operand,
			  const char **json, long *limit)
{
	if (strcmp(cmd, "publish") == 0) {
		if (argc < 1 || argc > 2)
			return -1;
		*operand = argv[0];
		*json = argc == 2 ? argv[1] : NULL;
		return 0;
	}
	if (strcmp(cmd, "test-event") == 0) {
		if (argc != 1)
			return -1;
		*operand = argv[0];
		return 0;
	}
	if (strcmp(cmd, "replay") == 0) {
		char *end = NULL;

		if (argc != 1 && argc != 3)
			return -1;
		*operand = argv[0];
		if (argc == 3) {
			if (strcmp(argv[1], "--limit") != 0)
				return -1;
			errno = 0;
			*limit = strtol(argv[2], &end, 10);
			if (errno || end == argv[2] || *end || *limit < 0)
				return -1;
		}
		return 0;
	}
	return argc == 0 ? 0 : -1;
}

int cli_main(int argc, char **argv)
{
	const char *path = getenv("HSBRIDGE_CONFIG");
	const char *cmd = "run";
	struct cfg *cfg = NULL;
	const char *operand = NULL;
	const char *json = NULL;
	long limit = -1;
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
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	if (!known_command(cmd)) {
		fprintf(stderr, "hsbridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_operands(cmd, argc - optind, argv + optind, &operand, &json, &limit) != 0) {
		usage(stderr);
		return EX_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "hsbridge: libcurl failed to initialise\n");
		return EX_SOFTWARE;
	}
	if (cfg_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		rc = EX_CONFIG;
		goto out;
	}
	log_set_level(cfg->log_level);
	if (strcmp(cmd, "check") == 0)
		rc = cmd_check(cfg);
	else if (strcmp(cmd, "topology") == 0)
		rc = cmd_topology(cfg);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(cfg);
	else if (strcmp(cmd, "publish") == 0)
		rc = cmd_publish(cfg, operand, json);
	else if (strcmp(cmd, "test-event") == 0)
		rc = cmd_test_event(cfg, operand);
	else if (strcmp(cmd, "replay") == 0)
		rc = cmd_replay(cfg, operand, limit);
	else
		rc = cmd_run(&cfg);
out:
	cfg_free(cfg);
	curl_global_cleanup();
	return rc;
}
