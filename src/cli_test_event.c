/* cli: test-event, the dashboard's "Send Test Event": a signed webhook.test
 * POST to one subscription, now, outside the queues. The one command that
 * speaks HTTP rather than AMQP. */
#include "cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hsbridge/broker.h"
#include "hsbridge/dispatch.h"
#include "hsbridge/event.h"
#include "hsbridge/history.h"
#include "hsbridge/redact.h"
#include "hsbridge/topology.h"
#include "hsbridge/webhook.h"

struct test_result {
	const struct cfg_sub *sub;
	bool done;
	int status;
	long ms;
	char error[CURL_ERROR_SIZE];
	/* The endpoint's answer goes to a terminal: its control sequences are
	 * escaped (up to 4 bytes for each byte received). */
	char body[4 * DISP_BODY_MAX + 1];
	/* As received but for echoes of the subscription's header values, for
	 * the history record (which escapes it itself). */
	char raw_error[CURL_ERROR_SIZE];
	char raw_body[DISP_BODY_MAX];
	size_t raw_len;
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
	redact_controls(res->error, strlen(res->error), t->error, sizeof(t->error));
	snprintf(t->raw_error, sizeof(t->raw_error), "%s", res->error);
	t->raw_len = res->body_len < sizeof(t->raw_body) ? res->body_len : sizeof(t->raw_body);
	memcpy(t->raw_body, res->body, t->raw_len);
	/* Neither the stream nor the terminal shows an echoed credential. */
	cfg_scrub_header_echoes(t->sub, t->raw_body, t->raw_len, t->raw_len >= DISP_BODY_MAX);
	redact_controls(t->raw_body, t->raw_len, t->body, sizeof(t->body));
}

/* The test event's record in the history stream, like every attempt's, so
 * that `logs SUB --delivery ID` finds it: published with a confirm. A
 * failure is said on stderr and changes nothing else (the history is not
 * the source of truth). */
static void record_attempt(const struct cfg *cfg, const struct cfg_sub *s, const char *id,
			   const char *delivery, const struct test_result *t)
{
	struct hist_record r = {.sub = s->name, .event = id, .delivery = delivery,
				.type = "webhook.test", .attempt = 1, .status = t->status,
				.ms = t->ms, .response = t->raw_body, .response_len = t->raw_len};
	char host[256] = "unknown", stream[BRK_NAME_MAX], err[BRK_ERR_MAX];
	amqp_basic_properties_t p = {0};
	amqp_table_entry_t hdr[2];
	struct timeval tv;
	struct brk *b = NULL;
	char *json = NULL;
	size_t len = 0;
	bool returned = false;
	int rc = EX_TEMPFAIL;

	if (!cfg->history.enabled)
		return;
	(void)gethostname(host, sizeof(host) - 1);
	gettimeofday(&tv, NULL);
	r.ts_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	r.outcome = t->status >= 200 && t->status <= 299 ? "delivered" : "failed";
	/* As the bridge's records say it: the transfer error, or the status. */
	if (t->status == 0 || (t->status >= 200 && t->status <= 299))
		snprintf(err, sizeof(err), "%s", t->raw_error);
	else
		snprintf(err, sizeof(err), "HTTP %d%s%s", t->status, t->raw_error[0] ? ", then " : "",
			 t->raw_error);
	r.error = err;
	r.host = host;
	r.pid = (long)getpid();
	if (hist_format(&r, (size_t)cfg->history.response_bytes, &json, &len) != 0) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	rc = cli_connect_channel(cfg, "hsbridge test-event", true, &b, NULL);
	if (rc != EX_OK) {
		snprintf(err, sizeof(err), "the broker is unavailable");
		goto out;
	}
	topo_attempts_queue(cfg, stream, sizeof(stream));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		   AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.timestamp = (uint64_t)tv.tv_sec;
	hdr[0] = brk_entry_str("sub", s->name);
	hdr[1] = brk_entry_str("outcome", r.outcome);
	p.headers = (amqp_table_t){.num_entries = 2, .entries = hdr};
	rc = brk_publish(b, 1, "", stream, true, &p, json, len) == 0 ? EX_OK : EX_UNAVAILABLE;
	if (rc == EX_OK)
		rc = cli_await_confirm(b, &returned, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "connection lost while publishing");
	if (rc == EX_OK && returned) {
		snprintf(err, sizeof(err), "no stream %s (run hsbridge topology)", stream);
		rc = EX_UNAVAILABLE;
	}
out:
	if (rc != EX_OK)
		fprintf(stderr, "hsbridge: warning: the test event's record is not in the history "
				"stream: %s\n",
			err);
	brk_close(b);
	free(json);
}

/* The subscription's egress keys, as the bridge sends with them. */
static void egress_of(const struct cfg_sub *s, struct disp_egress *e)
{
	memset(e, 0, sizeof(*e));
	e->proxy = s->egress.proxy;
	e->ca_file = s->egress.tls_ca_file;
	e->client_cert = s->egress.tls_client_cert;
	e->client_key = s->egress.tls_client_key;
	e->key_password = s->egress.tls_client_key_password;
	e->guard = !s->egress.allow_private_addresses;
}

static const char test_event_fmt[] =
    "{\"id\":\"%s\",\"type\":\"webhook.test\",\"created_at\":\"%s\",\"data\":"
    "{\"object\":{\"subscription\":\"%s\",\"message\":\"This is a test event from "
    "HealthSync.\"}}}";

/* The dashboard's "Send Test Event": a signed webhook.test POST, now,
 * outside the queues. */
int cli_cmd_test_event(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	const struct cfg_sub *s = cli_find_sub(cfg, a->operand[0]);
	struct disp *d = NULL;
	struct wh_sub *wh = NULL;
	struct disp_request req;
	struct disp_egress egress;
	struct test_result t;
	char id[40], created[32], delivery[37];
	char *body = NULL;
	long long now = (long long)time(NULL);
	int rc = EX_SOFTWARE;
	int n;

	if (!s)
		return EX_USAGE;
	memset(&t, 0, sizeof(t));
	t.sub = s;
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
	wh = wh_sub_new(s);
	req.headers = wh ? wh_request_headers(wh, "webhook.test", delivery, 1, body, (size_t)n, now)
			 : NULL;
	req.free_headers = wh_headers_free;
	req.timeout_ms = s->timeout_ms;
	egress_of(s, &egress);
	req.egress = &egress;
	req.user = &t;
	if (!disp_url_allowed(&egress, s->url, t.error, sizeof(t.error))) {
		wh_headers_free(req.headers);
		t.done = true;
	} else if (!req.headers || disp_submit(d, &req) != 0) {
		goto out;
	}
	while (!t.done) {
		disp_wait(d, NULL, 0, 100);
		disp_collect(d, on_test_done, NULL);
	}
	record_attempt(cfg, s, id, delivery, &t);
	printf("event:    %s (webhook.test)\ndelivery: %s\n", id, delivery);
	if (t.status == 0) {
		printf("status:   no response (%s)\ntime:     %ld ms\n", t.error, t.ms);
		rc = EX_TEMPFAIL;
		goto out;
	}
	printf("status:   %d\ntime:     %ld ms\n", t.status, t.ms);
	if (t.error[0])
		printf("error:    %s (after the status line)\n", t.error);
	printf("body:     %s\n", t.body);
	rc = (t.status >= 200 && t.status <= 299) ? EX_OK : EX_TEMPFAIL;
out:
	disp_free(d);
	wh_sub_free(wh);
	free(body);
	return rc;
}
