/* bridge_relay: what happens to a delivery, state by state (delivery.h). Each
 * handler does the I/O its state asks for, then moves the delivery on with
 * dlv_move; dlv_reap, at the end of the loop's turn, frees finished ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_int.h"
#include "hsbridge/clock.h"
#include "hsbridge/copy.h"
#include "hsbridge/event.h"
#include "hsbridge/log.h"
#include "hsbridge/mark.h"
#include "hsbridge/policy.h"
#include "hsbridge/topology.h"
#include "hsbridge/webhook.h"
#include "hsbridge/wire.h"

#define BLOCKED_RECHECK_MS 1000
#define REFUSED_BACKOFF_MIN_MS 500
#define REFUSED_BACKOFF_MAX_MS 30000

/* A property as a C string, or NULL. */
static char *prop_str(const amqp_basic_properties_t *p, amqp_flags_t flag, amqp_bytes_t b)
{
	if (!(p->_flags & flag))
		return NULL;
	return b.len ? strndup(b.bytes, b.len) : strdup("");
}

/* ACKED: its ack is recorded, and goes out with the others decided in this
 * turn (relay_flush_acks). HANDED_BACK when its channel no longer holds it
 * (the broker delivers the message again). */
static void ack_original(struct bridge *br, struct delivery *d)
{
	if (brk_ack(br->brk, d->channel, d->tag) != 0) {
		bridge_mark_broken(br, "acking a delivery its channel no longer holds");
		dlv_move(&br->dlv, d, DLV_HANDED_BACK);
		return;
	}
	dlv_move(&br->dlv, d, DLV_ACKED);
}

void relay_flush_acks(struct bridge *br)
{
	if (br->brk && !br->broken && brk_flush_acks(br->brk) != 0)
		bridge_mark_broken(br, "connection lost while acking");
}

static void hold(struct bridge *br, struct delivery *d, long long due_ms)
{
	d->copy.due_ms = due_ms;
	dlv_move(&br->dlv, d, DLV_HELD);
}

/* The copy's marks: a prepared envelope keeps its id, type and bytes on
 * every attempt, so they ride in the properties. A copy with attempts is
 * sealed with hsbridge-mark (into mark) so that the next delivery trusts its
 * count. */
static void copy_marks_of(const struct bridge *br, struct delivery *d, const char *now,
			  char mark[MARK_HEX_LEN + 1], struct copy_marks *m)
{
	const struct cfg_sub *s = d->sub->cfg;
	struct mark_input in;

	memset(m, 0, sizeof(*m));
	m->attempts = d->copy.attempts;
	m->last_status = d->copy.last_status;
	m->last_error = d->copy.last_error;
	m->reason = d->copy.reason;
	m->now = now;
	m->drop_headers = d->copy.drop_headers;
	/* Names the copy in a basic.return: the copy is mandatory, and one
	 * that no queue took must not let its original be acked. */
	m->seq = br->pub_seq + 1;
	if (d->ev.body) {
		m->type = d->ev.type;
		m->message_id = d->ev.id;
	}
	/* A spared first attempt leaves 0 attempts: sealed like a replay's
	 * copy (no first failure), so that it is trusted as the bridge's own. */
	if (m->attempts == 0 && !d->copy.spared)
		return;
	/* Kept, so that a copy published again after a refusal says the same. */
	if (m->attempts > 0 && d->copy.first_failure_at[0] == '\0')
		snprintf(d->copy.first_failure_at, sizeof(d->copy.first_failure_at), "%s", now);
	m->first_failure_at = m->attempts > 0 ? d->copy.first_failure_at : NULL;
	in.sub = s->name;
	in.attempts = m->attempts;
	in.first_failure_at = m->attempts > 0 ? m->first_failure_at : "";
	in.body = d->ev.body ? d->ev.body : d->msg.body.bytes;
	in.len = d->ev.body ? d->ev.len : d->msg.body.len;
	if (mark_compute(s->secret, &in, mark) == 0)
		m->mark = mark;
}

/* A copy whose properties cannot fit in one frame (the publisher's headers
 * fill it, ours do not fit beside them) could never be published: it goes
 * to the parked queue without the publisher's headers, and says so. */
static void drop_headers(struct bridge *br, struct delivery *d, size_t size)
{
	char was[sizeof(d->copy.last_error)];

	snprintf(was, sizeof(was), "%s", d->copy.last_error);
	snprintf(d->copy.last_error, sizeof(d->copy.last_error),
		 "headers dropped: the publisher's headers do not fit in one AMQP frame with the "
		 "bridge's (%zu bytes, frame_max %zu)%s%.150s",
		 size, brk_frame_max(br->pub), was[0] ? "; " : "", was);
	d->copy.drop_headers = true;
	if (!d->copy.reason)
		d->copy.reason = pol_reason_name(POL_REASON_PAYLOAD_TOO_LARGE);
	snprintf(d->copy.exchange, sizeof(d->copy.exchange), "%s", "");
	snprintf(d->copy.routing_key, sizeof(d->copy.routing_key), "%s", d->sub->parked);
	log_line(LOGL_WARN, "headers dropped", LOG_S("sub", d->sub->cfg->name),
		 LOG_S("event", d->ev.body ? d->ev.id : NULL), LOG_S("outcome", "parked"),
		 LOG_S("reason", d->copy.reason), LOG_S("error", d->copy.last_error));
}

/* d's copy in c, one that fits in a frame. Returns 0, or -1 when out of
 * memory. */
static int build_copy(struct bridge *br, struct delivery *d, const char *now,
		      char mark[MARK_HEX_LEN + 1], struct copy_marks *m, struct copy_props *c)
{
	size_t size;

	for (;;) {
		copy_marks_of(br, d, now, mark, m);
		if (copy_build(&d->msg.properties, m, c) != 0)
			return -1;
		size = wire_header_frame_size(&c->p);
		if (size <= brk_frame_max(br->pub) || d->copy.drop_headers)
			return 0;
		copy_props_free(c);
		drop_headers(br, d, size);
	}
}

/* Publishes d's copy on the publishing connection's confirm channel:
 * CONFIRMING until the broker confirms it, and only then is the original
 * acked. While the broker blocks that connection (it does not read it) or
 * it is down, the copy is HELD instead, so that the loop never blocks on a
 * full socket; a publish that fails there holds the copy for the next
 * publishing connection. */
static void publish_copy(struct bridge *br, struct delivery *d)
{
	struct copy_marks m;
	struct copy_props c;
	char now[32];
	char mark[MARK_HEX_LEN + 1];
	bool prepared = d->ev.body != NULL;
	int rc;

	if (!bridge_pub_ready(br)) {
		hold(br, d, clk_mono_ms() + BLOCKED_RECHECK_MS);
		return;
	}
	ev_format_time(clk_wall_s(), now, sizeof(now));
	if (build_copy(br, d, now, mark, &m, &c) != 0) {
		bridge_mark_broken(br, "out of memory");
		dlv_move(&br->dlv, d, DLV_HANDED_BACK);
		return;
	}
	rc = brk_publish(br->pub, PUB_CH, d->copy.exchange, d->copy.routing_key, true, &c.p,
			 prepared ? d->ev.body : d->msg.body.bytes,
			 prepared ? d->ev.len : d->msg.body.len);
	copy_props_free(&c);
	if (rc == BRK_ERR_TOO_LARGE) {
		/* Not even without the publisher's headers: nothing was sent,
		 * the original stays unacked and nothing else waits for it. */
		log_line(LOGL_ERROR, "copy unsendable", LOG_S("sub", d->sub->cfg->name),
			 LOG_S("error", "the copy's properties do not fit in one AMQP frame"));
		hold(br, d, clk_mono_ms() + REFUSED_BACKOFF_MAX_MS);
		return;
	}
	if (rc != 0) {
		bridge_mark_pub_broken(br, "connection lost while publishing a copy");
		hold(br, d, clk_mono_ms());
		return;
	}
	d->copy.seq = ++br->pub_seq;
	d->copy.returned = false;
	dlv_move(&br->dlv, d, DLV_CONFIRMING);
}

static void park(struct bridge *br, struct delivery *d, const char *reason)
{
	snprintf(d->copy.exchange, sizeof(d->copy.exchange), "%s", "");
	snprintf(d->copy.routing_key, sizeof(d->copy.routing_key), "%s", d->sub->parked);
	d->copy.reason = reason;
	publish_copy(br, d);
}

static void retry(struct bridge *br, struct delivery *d, size_t delay_index)
{
	topo_retry_name(br->cfg, delay_index, d->copy.exchange, sizeof(d->copy.exchange));
	snprintf(d->copy.routing_key, sizeof(d->copy.routing_key), "%s", d->sub->queue);
	publish_copy(br, d);
}

/* The start of a receiver's answer, for the log: printable ASCII only, so a
 * binary answer cannot break the JSON line. */
static void printable(const char *src, size_t len, char *dst, size_t dstlen)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	dst[n] = '\0';
}

/* What became of the attempt: the decision, unless the session failed
 * before it could be recorded (the broker then delivers the event again). */
static const char *outcome_name(const struct delivery *d, enum pol_action a)
{
	if (d->state == DLV_HANDED_BACK)
		return "handed_back";
	return a == POL_ACK ? "delivered" : a == POL_RETRY ? "retry" : "parked";
}

/* One line per attempt (DESIGN section 7), written once the delivery has
 * moved on, so that the outcome is what happened. */
static void log_attempt(struct bridge *br, const struct delivery *d,
			const struct disp_result *res, const struct pol_decision *dec,
			const char *error)
{
	bool handed_back = d->state == DLV_HANDED_BACK;
	/* A retry whose copy could not fit in a frame was parked instead. */
	enum pol_action act =
	    dec->action == POL_RETRY && d->copy.drop_headers ? POL_PARK : dec->action;
	char response[512];
	char answer[DISP_BODY_MAX];
	struct disp_result seen = *res;
	char next[32] = "";

	figures_attempt(d, act, res);
	/* What the log line and the history record show of the answer: an
	 * endpoint that echoes the request would put the subscription's header
	 * values (credentials, often) into both, so a copy without them, made
	 * once and only when there are values to look for. */
	if (d->sub->cfg->n_headers > 0 && res->body_len > 0) {
		seen.body_len = res->body_len < sizeof(answer) ? res->body_len : sizeof(answer);
		memcpy(answer, res->body, seen.body_len);
		cfg_scrub_header_echoes(d->sub->cfg, answer, seen.body_len,
					seen.body_len >= DISP_BODY_MAX);
		seen.body = answer;
	}
	printable(seen.body, seen.body_len, response, sizeof(response));
	if (act == POL_RETRY)
		cfg_format_duration(br->cfg->retry_delays_ms[dec->delay_index], next, sizeof(next));
	log_line(act == POL_ACK && !handed_back ? LOGL_INFO : LOGL_WARN, "delivery",
		 LOG_S("sub", d->sub->cfg->name), LOG_S("event", d->ev.id),
		 LOG_S("delivery", d->id), LOG_S("type", d->ev.type), LOG_I("attempt", d->attempt),
		 LOG_I("status", res->status), LOG_I("ms", res->ms),
		 LOG_S("outcome", outcome_name(d, act)),
		 LOG_S("next", act == POL_RETRY && !handed_back ? next : NULL),
		 LOG_S("reason", act == POL_PARK && !handed_back ? d->copy.reason : NULL),
		 LOG_S("counted", d->copy.spared && !handed_back ? "no" : NULL),
		 LOG_S("error", error[0] ? error : NULL),
		 LOG_S("response", act != POL_ACK && response[0] ? response : NULL));
	history_record(br, d, &seen, outcome_name(d, act),
		       act == POL_RETRY && !handed_back ? next : NULL, error);
}

/* libcurl sends a POST again on a new connection when a reused one closed
 * before any answer (the endpoint may have read it, or may have closed the
 * idle connection first). One line per earlier send, before the attempt's
 * own line, so that every request the endpoint may have seen is logged. */
static void log_resent(const struct delivery *d, const struct disp_result *res)
{
	for (unsigned i = 1; i < res->requests; i++)
		log_line(LOGL_WARN, "delivery", LOG_S("sub", d->sub->cfg->name),
			 LOG_S("event", d->ev.id), LOG_S("delivery", d->id),
			 LOG_S("type", d->ev.type), LOG_I("attempt", d->attempt), LOG_I("status", 0),
			 LOG_S("outcome", "resent"), LOG_I("request", i),
			 LOG_S("error", "a reused connection closed without an answer; the same "
					"request went out again on a new connection"));
}

/* POSTING -> ACKED, or a copy for a retry or the parked queue. A NULL res
 * means the transfer was cancelled because the session ended. */
void relay_on_http_done(void *user, const struct disp_result *res, void *arg)
{
	struct delivery *d = user;
	struct bridge *br = arg;
	size_t n_delays = br->cfg->n_delays;
	struct pol_decision dec;
	char error[CURL_ERROR_SIZE + 32];
	/* Not counted: the endpoint has not shown it is up (breaker_spares),
	 * or it throttles (pol_throttled). The event takes the retry path
	 * with its count unchanged. */
	bool spared = breakers_on_answer(br, d, res, d->attempt > n_delays);

	if (!res) {
		dlv_move(&br->dlv, d, DLV_HANDED_BACK);
		return;
	}
	dec = pol_decide(res->status, res->retry_after_ms,
			 spared && d->attempt > n_delays ? (unsigned)n_delays : d->attempt,
			 br->cfg->retry_delays_ms, n_delays);
	/* The guard refused the address: another attempt would go to the same
	 * place. Nothing was sent. */
	if (res->address_refused) {
		dec.action = POL_PARK;
		dec.reason = POL_REASON_ADDRESS_NOT_ALLOWED;
	}
	/* A 2xx is a delivery even when the transfer failed after it (a body
	 * cut short): the failure is only logged. */
	if (res->status == 0 || (res->status >= 200 && res->status <= 299))
		snprintf(error, sizeof(error), "%s", res->error);
	else
		snprintf(error, sizeof(error), "HTTP %d%s%s", res->status,
			 res->error[0] ? ", then " : "", res->error);
	d->copy.attempts = spared ? d->attempt - 1 : d->attempt;
	d->copy.spared = spared;
	d->copy.last_status = res->status;
	snprintf(d->copy.last_error, sizeof(d->copy.last_error), "%s", error);
	if (br->broken)
		/* No channel to ack or publish on: the broker redelivers. */
		dlv_move(&br->dlv, d, DLV_HANDED_BACK);
	else if (dec.action == POL_ACK)
		ack_original(br, d);
	else if (dec.action == POL_RETRY)
		retry(br, d, dec.delay_index);
	else
		park(br, d, pol_reason_name(dec.reason));
	log_resent(d, res);
	log_attempt(br, d, res, &dec, error);
}

/* What dispatch needs of a subscription's egress keys (borrowed from its
 * cfg, which outlives it), and a full bucket. */
static void bind_egress(struct dlv_sub *s)
{
	const struct cfg_egress *e = &s->cfg->egress;

	memset(&s->egress, 0, sizeof(s->egress));
	s->egress.proxy = e->proxy; /* CFG_PROXY_ENV is DISP_PROXY_ENV */
	s->egress.ca_file = e->tls_ca_file;
	s->egress.client_cert = e->tls_client_cert;
	s->egress.client_key = e->tls_client_key;
	s->egress.key_password = e->tls_client_key_password;
	s->egress.guard = !e->allow_private_addresses;
	/* The burst: one second's worth. */
	rl_init(&s->bucket, e->max_per_second, e->max_per_second, clk_mono_ms());
}

int relay_prefetch(const struct dlv_sub *s)
{
	long rate = s->cfg->egress.max_per_second;

	return rate > 0 && rate < s->cfg->max_in_flight ? (int)rate : s->cfg->max_in_flight;
}

int relay_bind_subs(struct dlv_sub *subs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bind_egress(&subs[i]);
		subs[i].wh = wh_sub_new(subs[i].cfg);
		if (!subs[i].wh) {
			relay_unbind_subs(subs, i);
			return -1;
		}
	}
	return 0;
}

void relay_unbind_subs(struct dlv_sub *subs, size_t n)
{
	for (size_t i = 0; subs && i < n; i++) {
		wh_sub_free(subs[i].wh);
		subs[i].wh = NULL;
	}
}

/* RECEIVED -> POSTING. */
static void start_attempt(struct bridge *br, struct delivery *d)
{
	struct disp_request req;
	struct disp_result res = {.status = 0, .retry_after_ms = -1};

	req.url = d->sub->cfg->url;
	req.body = d->ev.body;
	req.len = d->ev.len;
	req.headers = wh_request_headers(d->sub->wh, d->ev.type, d->id, d->attempt, d->ev.body,
					 d->ev.len, clk_wall_s());
	req.free_headers = wh_headers_free;
	req.timeout_ms = d->sub->cfg->timeout_ms;
	req.egress = &d->sub->egress;
	req.user = d;
	breakers_on_post(d);
	dlv_move(&br->dlv, d, DLV_POSTING);
	if (!disp_url_allowed(req.egress, req.url, res.error, sizeof(res.error))) {
		res.address_refused = true;
		wh_headers_free(req.headers);
		relay_on_http_done(d, &res, br);
		return;
	}
	/* dispatch frees the headers even when it fails */
	if (!req.headers || disp_submit(br->disp, &req) != 0) {
		snprintf(res.error, sizeof(res.error), "could not start the request");
		relay_on_http_done(d, &res, br);
	}
}

/* A checked envelope goes out now, or waits RECEIVED for its token. */
static void post_or_wait(struct bridge *br, struct delivery *d)
{
	if (rl_take(&d->sub->bucket, clk_mono_ms()))
		start_attempt(br, d);
}

void relay_post_waiting(struct bridge *br)
{
	struct delivery *d = br->dlv.head[DLV_RECEIVED];
	struct delivery *prev;
	long long now = clk_mono_ms();

	if (!br->brk || br->broken)
		return;
	/* New deliveries are linked at the head: the oldest is the last. */
	while (d && d->next)
		d = d->next;
	for (; d && !br->broken; d = prev) {
		prev = d->prev;
		if (d->ev.body && rl_take(&d->sub->bucket, now))
			start_attempt(br, d);
	}
}

int relay_rate_wait_ms(const struct bridge *br, int max_ms)
{
	long long now = clk_mono_ms();
	int ms = max_ms;

	for (struct delivery *d = br->dlv.head[DLV_RECEIVED]; d; d = d->next) {
		long left = d->ev.body ? rl_wait_ms(&d->sub->bucket, now) : max_ms;

		if (left < ms)
			ms = (int)left;
	}
	return ms;
}

static struct dlv_sub *sub_by_channel(struct bridge *br, uint16_t ch)
{
	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		if (br->subs[i].channel == ch)
			return &br->subs[i];
	}
	return NULL;
}

/* Attempts already made, from the bookkeeping of a copy the bridge made
 * (*made: its hsbridge-mark verifies under the subscription's secret; a
 * replay's seals 0 attempts), clamped to the schedule; 0 for anything
 * else: a publisher cannot forge a count. *forged: hsbridge-* headers were
 * there, but not from this bridge. */
static unsigned trusted_attempts(const struct bridge *br, struct delivery *d, bool *made,
				 bool *forged)
{
	const amqp_basic_properties_t *p = &d->msg.properties;
	const struct cfg_sub *s = d->sub->cfg;
	struct mark_input in;
	const char *mark = NULL;
	size_t mark_len = 0;

	*forged = false;
	*made = false;
	d->copy.first_failure_at[0] = '\0';
	if (!copy_has_bookkeeping(p))
		return 0;
	copy_first_failure_at(p, d->copy.first_failure_at, sizeof(d->copy.first_failure_at));
	in.sub = s->name;
	in.attempts = copy_attempts(p);
	in.first_failure_at = d->copy.first_failure_at;
	in.body = d->msg.body.bytes;
	in.len = d->msg.body.len;
	if (copy_header_text(p, "hsbridge-mark", &mark, &mark_len) &&
	    mark_verify(mark, mark_len, s->secret, s->previous_secrets, s->n_previous, &in)) {
		*made = true;
		return in.attempts > br->cfg->n_delays ? (unsigned)br->cfg->n_delays : in.attempts;
	}
	d->copy.first_failure_at[0] = '\0';
	*forged = true;
	return 0;
}

static bool sub_wants(const struct cfg_sub *s, const char *type)
{
	for (size_t i = 0; i < s->n_events; i++) {
		if (ev_topic_match(s->events[i], type))
			return true;
	}
	return false;
}

/* What ev_prepare does not know: a message with the queue's own name as
 * routing key did not come through the subscription's bindings. A copy the
 * bridge made (marked) is trusted; anything else (a replay, or a message
 * published straight to the queue) must be of a type the subscription
 * asks for. */
static int check_route(struct delivery *d, bool made)
{
	if (made || strcmp(d->routing_key, d->sub->queue) != 0 || sub_wants(d->sub->cfg, d->ev.type))
		return 0;
	snprintf(d->ev.reason, sizeof(d->ev.reason),
		 "type %.60s is not one of the subscription's events (published to its queue "
		 "directly)",
		 d->ev.type);
	return -1;
}

/* A property cut short at a NUL byte (C strings) must not stand in for the
 * event's id or type: two events would share one id, and delivery id. */
static int check_nul(struct delivery *d, const char *mid, const char *type)
{
	const amqp_basic_properties_t *p = &d->msg.properties;
	bool mid_cut = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len &&
		       memchr(p->message_id.bytes, '\0', p->message_id.len);
	bool type_cut = (p->_flags & AMQP_BASIC_TYPE_FLAG) && p->type.len &&
			memchr(p->type.bytes, '\0', p->type.len);

	if (mid_cut && mid && strcmp(d->ev.id, mid) == 0)
		snprintf(d->ev.reason, sizeof(d->ev.reason),
			 "message_id property contains a NUL byte");
	else if (type_cut && type && strcmp(d->ev.type, type) == 0)
		snprintf(d->ev.reason, sizeof(d->ev.reason), "type property contains a NUL byte");
	else
		return 0;
	return -1;
}

static void park_invalid(struct bridge *br, struct delivery *d, const char *mid, enum ev_status st)
{
	const char *reason = pol_reason_name(st == EV_TOO_LARGE ? POL_REASON_PAYLOAD_TOO_LARGE
								: POL_REASON_INVALID_PAYLOAD);

	log_line(LOGL_WARN, "parked", LOG_S("sub", d->sub->cfg->name), LOG_S("event", mid),
		 LOG_S("routing_key", d->routing_key), LOG_S("outcome", "parked"),
		 LOG_S("reason", reason), LOG_S("error", d->ev.reason));
	snprintf(d->copy.last_error, sizeof(d->copy.last_error), "%s", d->ev.reason);
	park(br, d, reason);
	figures_parked(d);
	history_invalid(br, d, mid, d->ev.reason);
}

/* Validates and completes the envelope: a valid one is POSTed, an invalid
 * one is parked at once with the reason, never POSTed. */
static void prepare(struct bridge *br, struct delivery *d)
{
	const amqp_basic_properties_t *p = &d->msg.properties;
	char *mid = prop_str(p, AMQP_BASIC_MESSAGE_ID_FLAG, p->message_id);
	char *type = prop_str(p, AMQP_BASIC_TYPE_FLAG, p->type);
	bool made, forged;
	unsigned attempts = trusted_attempts(br, d, &made, &forged);
	struct ev_input in;
	enum ev_status st;

	memset(&in, 0, sizeof(in));
	in.body = d->msg.body.bytes;
	in.len = d->msg.body.len;
	/* A copy the bridge made was within the limit when it was first taken
	 * in; completing its envelope may have added a few bytes. */
	in.max_body = made ? 0 : br->cfg->max_body_bytes;
	in.message_id = mid;
	in.type_prop = type;
	/* A copy that came back from a retry queue has the queue's name as
	 * routing key; the type property is the event type then. */
	in.routing_key = strcmp(d->routing_key, d->sub->queue) == 0 ? NULL : d->routing_key;
	in.timestamp = (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) ? (long long)p->timestamp : 0;
	in.now = clk_wall_s();
	st = ev_prepare(&in, &d->ev);
	if (st == EV_OK && (check_nul(d, mid, type) != 0 || check_route(d, made) != 0))
		st = EV_INVALID;
	free(type);
	if (st != EV_OK) {
		park_invalid(br, d, mid, st);
		free(mid);
		return;
	}
	free(mid);
	if (forged)
		log_line(LOGL_WARN, "bookkeeping ignored", LOG_S("sub", d->sub->cfg->name),
			 LOG_S("event", d->ev.id),
			 LOG_S("error", "hsbridge-* headers without a valid hsbridge-mark (not a copy "
					"this bridge made): counting starts at attempt 1"));
	/* From here on the prepared envelope is what is POSTed and copied:
	 * holding the message's own bytes too would keep each body twice for
	 * as long as it is in flight. */
	amqp_bytes_free(d->msg.body);
	d->msg.body = amqp_empty_bytes;
	d->attempt = attempts + 1;
	ev_delivery_id(d->sub->cfg->name, d->ev.id, d->id);
	post_or_wait(br, d);
}

void relay_on_delivery(struct bridge *br, struct brk_event *ev)
{
	struct dlv_sub *sub = sub_by_channel(br, ev->channel);
	struct delivery *d;

	if (!sub)
		return;
	d = dlv_receive(&br->dlv, sub, ev->channel, ev->delivery_tag, &ev->message,
			&ev->routing_key);
	if (d)
		ev->kind = BRK_OTHER; /* the delivery owns the message now */
	if (!d) {
		bridge_mark_broken(br, "out of memory");
		return;
	}
	prepare(br, d);
	/* After prepare, which names the event; d lives until dlv_reap. Its
	 * copies, if any, lack what was dropped. */
	if (ev->dropped)
		log_line(LOGL_WARN, "headers dropped", LOG_S("sub", sub->cfg->name),
			 LOG_S("event", d->ev.body ? d->ev.id : NULL),
			 LOG_S("error", brk_dropped_text(ev->dropped)));
}

/* A copy the broker refused (nacked, or returned for want of a queue) is
 * published again after a backoff. The original stays unacked meanwhile:
 * nothing is lost, the endpoint sees no extra POST, the queue's delivery
 * count does not grow, and max_in_flight holds back new work. */
static void hold_refused(struct bridge *br, struct delivery *d)
{
	long long backoff = REFUSED_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < d->copy.refusals && backoff < REFUSED_BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > REFUSED_BACKOFF_MAX_MS)
		backoff = REFUSED_BACKOFF_MAX_MS;
	d->copy.refusals++;
	log_line(LOGL_ERROR, "copy refused", LOG_S("sub", d->sub->cfg->name),
		 LOG_S("event", d->ev.body ? d->ev.id : NULL), LOG_S("to", d->copy.exchange[0] ? d->copy.exchange : "(default exchange)"),
		 LOG_S("routing_key", d->copy.routing_key),
		 LOG_S("error", d->copy.returned ? "no queue took the copy; declaring the topology again"
				: d->sub->cfg->parked_max_length > 0 &&
					  strcmp(d->copy.routing_key, d->sub->parked) == 0
				    ? "the broker nacked the copy: the parked queue is full "
				      "(parked_max_length); the original stays unacked"
				    : "the broker nacked the copy"),
		 LOG_I("retry_in_ms", backoff));
	hold(br, d, clk_mono_ms() + backoff);
}

/* CONFIRMING -> ACKED, or HELD when refused. One confirm with multiple set
 * settles every copy up to its sequence number. */
void relay_on_confirm(struct bridge *br, const struct brk_event *ev)
{
	struct delivery *next;

	for (struct delivery *d = br->dlv.head[DLV_CONFIRMING]; d; d = next) {
		next = d->next;
		if (ev->multiple ? d->copy.seq > ev->delivery_tag : d->copy.seq != ev->delivery_tag)
			continue;
		if (ev->ack && !d->copy.returned && d->copy.refusals > 0)
			log_line(LOGL_INFO, "copy accepted", LOG_S("sub", d->sub->cfg->name),
				 LOG_S("event", d->ev.body ? d->ev.id : NULL),
				 LOG_S("routing_key", d->copy.routing_key),
				 LOG_I("refusals", d->copy.refusals));
		if (ev->ack && !d->copy.returned)
			ack_original(br, d);
		else
			hold_refused(br, d);
	}
}

/* A returned copy is followed by its confirm: mark it, so that the confirm
 * holds it instead of acking the original. */
void relay_on_return(struct bridge *br, const struct brk_event *ev)
{
	uint64_t seq = copy_header_uint(&ev->message.properties, "hsbridge-copy", UINT64_MAX);
	struct delivery *d = dlv_find_confirming(&br->dlv, seq);

	if (d) {
		d->copy.returned = true;
		br->redeclare = true;
	}
}

/* HELD -> CONFIRMING for the copies whose backoff is over. */
void relay_publish_held(struct bridge *br)
{
	long long now = clk_mono_ms();
	struct delivery *next;

	for (struct delivery *d = br->dlv.head[DLV_HELD]; d && !br->broken && bridge_pub_ready(br);
	     d = next) {
		next = d->next;
		if (d->copy.due_ms <= now)
			publish_copy(br, d);
	}
}

int relay_held_wait_ms(const struct bridge *br, int max_ms)
{
	long long now = clk_mono_ms();
	int ms = max_ms;

	/* While blocked or down, held copies wait for "unblocked" or a new
	 * publishing connection, not for a time. */
	if (!bridge_pub_ready(br))
		return ms;
	for (const struct delivery *d = br->dlv.head[DLV_HELD]; d; d = d->next) {
		long long left = d->copy.due_ms - now;

		if (left < ms)
			ms = left < 0 ? 0 : (int)left;
	}
	return ms;
}

void relay_hold_unconfirmed(struct bridge *br)
{
	long long now = clk_mono_ms();

	while (br->dlv.head[DLV_CONFIRMING])
		hold(br, br->dlv.head[DLV_CONFIRMING], now);
}
