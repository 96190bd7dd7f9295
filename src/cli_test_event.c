/* cli: test-event, the dashboard's "Send Test Event": a signed webhook.test
 * POST to one subscription, now, outside the queues. The one command that
 * speaks HTTP rather than AMQP. */
#include "cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <curl/curl.h>

#include "hsbridge/dispatch.h"
#include "hsbridge/event.h"
#include "hsbridge/redact.h"
#include "hsbridge/webhook.h"

struct test_result {
	bool done;
	int status;
	long ms;
	char error[CURL_ERROR_SIZE];
	/* The endpoint's answer goes to a terminal: its control sequences are
	 * escaped (up to 4 bytes for each byte received). */
	char body[4 * DISP_BODY_MAX + 1];
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
	redact_controls(res->body, res->body_len, t->body, sizeof(t->body));
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
