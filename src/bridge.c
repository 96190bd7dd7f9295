/* bridge: one thread, one loop. curl_multi_poll waits on the webhook
 * transfers and on the AMQP socket; every delivery is decided by the pure
 * policy and acked only once its fate is final or confirmed by the broker. */
#include "hsbridge/bridge.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "hsbridge/broker.h"
#include "hsbridge/dispatch.h"
#include "hsbridge/event.h"
#include "hsbridge/log.h"
#include "hsbridge/policy.h"
#include "hsbridge/signature.h"
#include "hsbridge/topology.h"

#define PUB_CH 1
#define MAX_FRAMES_PER_TURN 256
#define RECONNECT_MAX_MS 30000

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

void bridge_request_stop(void)
{
	stop_requested = 1;
}

void bridge_request_reload(void)
{
	reload_requested = 1;
}

struct sub_rt {
	const struct cfg_sub *cfg;
	uint16_t channel; /* 0 when not consuming */
	char queue[BRK_NAME_MAX];
	char parked[BRK_NAME_MAX];
};

/* Where a retried or parked copy goes and what it carries (DESIGN section
 * 4). Kept with the delivery so that a copy the broker refused can be
 * published again. */
struct copy_info {
	char exchange[BRK_NAME_MAX];
	char routing_key[BRK_NAME_MAX];
	unsigned attempts;
	int last_status;
	char last_error[CURL_ERROR_SIZE + 32];
	const char *reason; /* parked only; a static string */
};

/* One message taken from a subscription queue, alive until it is acked. */
struct delivery {
	struct bridge *br;
	struct sub_rt *sub;
	uint64_t tag;
	amqp_message_t msg;
	char *routing_key;
	struct ev_event ev;
	bool prepared;
	unsigned attempt;
	char id[37];
	struct copy_info copy;
	unsigned refusals;     /* times the broker refused the copy */
	long long due_ms;      /* when a refused copy is published again */
	uint64_t pub_seq;      /* its retry/parked copy, while awaiting the confirm */
	bool returned;	       /* the broker found no queue for the copy */
	struct delivery *next; /* in the confirm or the held list */
};

struct bridge {
	struct cfg *cfg;
	struct brk *brk;
	struct disp *disp;
	struct sub_rt *subs;
	uint64_t pub_seq;
	struct delivery *confirm_head;
	struct delivery *held_head; /* refused copies waiting to be published again */
	size_t alive;
	bool redeclare; /* a copy came back unroutable: someone deleted a queue */
	bool blocked;	/* a broker alarm: publishing would only pile up */
	/* The config before a reload, until a session with the new one has
	 * unbound the patterns the new one dropped. */
	struct cfg *retired;
	bool broken;
	char err[BRK_ERR_MAX];
};

static long long wall_s(void)
{
	return (long long)time(NULL);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_now(char *buf, size_t len)
{
	ev_format_time(wall_s(), buf, len);
}

static void mark_broken(struct bridge *br, const char *why)
{
	if (!br->broken)
		snprintf(br->err, sizeof(br->err), "%s", why);
	br->broken = true;
}

static void delivery_free(struct delivery *d)
{
	d->br->alive--;
	amqp_destroy_message(&d->msg);
	free(d->routing_key);
	ev_free(&d->ev);
	free(d);
}

bool bridge_header_is_bookkeeping(const char *key, size_t len)
{
	static const char *const prefixes[] = {"x-death", "x-first-death-", "x-last-death-",
					       "x-delivery-count", "hsbridge-"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (len >= n && memcmp(key, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

static const amqp_field_value_t *find_header(const amqp_basic_properties_t *p, const char *key)
{
	size_t n = strlen(key);

	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == n && memcmp(e->key.bytes, key, n) == 0)
			return &e->value;
	}
	return NULL;
}

/* An integer header of any AMQP integer kind, clamped to 0..max; 0 when
 * absent or of another kind. */
static unsigned long long header_uint(const amqp_basic_properties_t *p, const char *key,
				      unsigned long long max)
{
	const amqp_field_value_t *v = find_header(p, key);
	long long n = 0;

	if (!v)
		return 0;
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8:
		n = v->value.i8;
		break;
	case AMQP_FIELD_KIND_U8:
		n = v->value.u8;
		break;
	case AMQP_FIELD_KIND_I16:
		n = v->value.i16;
		break;
	case AMQP_FIELD_KIND_U16:
		n = v->value.u16;
		break;
	case AMQP_FIELD_KIND_I32:
		n = v->value.i32;
		break;
	case AMQP_FIELD_KIND_U32:
		n = v->value.u32;
		break;
	case AMQP_FIELD_KIND_I64:
		n = v->value.i64;
		break;
	case AMQP_FIELD_KIND_U64:
		return v->value.u64 > max ? max : v->value.u64;
	default:
		n = 0;
		break;
	}
	if (n < 0)
		n = 0;
	return (unsigned long long)n > max ? max : (unsigned long long)n;
}

/* Attempts are counted in our own header: RabbitMQ 4 ignores client-set
 * x-death, and a replayed message starts over without it. */
static unsigned attempts_so_far(const amqp_basic_properties_t *p)
{
	return (unsigned)header_uint(p, "hsbridge-attempts", 1000);
}

/* A property as a C string, or NULL. */
static char *prop_str(const amqp_basic_properties_t *p, amqp_flags_t flag, amqp_bytes_t b)
{
	if (!(p->_flags & flag))
		return NULL;
	return strndup(b.bytes, b.len);
}

static void ack_original(struct bridge *br, struct delivery *d)
{
	if (brk_ack(br->brk, d->sub->channel, d->tag) != 0)
		mark_broken(br, "connection lost while acking");
}

/* Parks d in the held list until due_ms (or, while blocked, until the
 * broker unblocks); its original stays unacked. */
static void hold(struct bridge *br, struct delivery *d, long long due_ms)
{
	d->due_ms = due_ms;
	d->next = br->held_head;
	br->held_head = d;
}

/* Publishes the copy d->copy describes on the confirm channel and queues d
 * until the broker confirms it; d is acked then, never before. */
static void publish_copy(struct bridge *br, struct delivery *d)
{
	const struct copy_info *info = &d->copy;

	/* The broker does not read a blocked connection: hold the copy (the
	 * original stays unacked) instead of filling the socket until the
	 * loop itself blocks on a write. */
	if (br->blocked) {
		hold(br, d, mono_ms() + 1000);
		return;
	}
	const amqp_basic_properties_t *orig = &d->msg.properties;
	amqp_basic_properties_t p;
	amqp_table_entry_t *entries = NULL;
	const amqp_field_value_t *first = find_header(orig, "hsbridge-first-failure-at");
	char now[32];
	char first_at[64];
	int n = 0;
	int n_orig = (orig->_flags & AMQP_BASIC_HEADERS_FLAG) ? orig->headers.num_entries : 0;
	const void *body;
	size_t len;

	iso_now(now, sizeof(now));
	if (first && first->kind == AMQP_FIELD_KIND_UTF8 &&
	    first->value.bytes.len < sizeof(first_at))
		snprintf(first_at, sizeof(first_at), "%.*s", (int)first->value.bytes.len,
			 (const char *)first->value.bytes.bytes);
	else
		snprintf(first_at, sizeof(first_at), "%s", now);

	entries = calloc((size_t)n_orig + 9, sizeof(*entries));
	if (!entries) {
		mark_broken(br, "out of memory");
		delivery_free(d);
		return;
	}
	for (int i = 0; i < n_orig; i++) {
		const amqp_table_entry_t *e = &orig->headers.entries[i];

		if (!bridge_header_is_bookkeeping(e->key.bytes, e->key.len))
			entries[n++] = *e;
	}
	if (info->attempts > 0) {
		entries[n++] = brk_entry_i64("hsbridge-attempts", info->attempts);
		entries[n++] = brk_entry_str("hsbridge-first-failure-at", first_at);
		entries[n++] = brk_entry_i64("hsbridge-last-status", info->last_status);
	}
	/* For an invalid payload this says what is wrong with it. */
	if (info->attempts > 0 || info->last_error[0])
		entries[n++] = brk_entry_str("hsbridge-last-error", info->last_error);
	if (info->reason) {
		entries[n++] = brk_entry_str("hsbridge-parked-reason", info->reason);
		entries[n++] = brk_entry_str("hsbridge-parked-at", now);
	}
	/* Names the copy in a basic.return: the copy is mandatory, and one that
	 * no queue took must not let its original be acked. */
	entries[n++] = brk_entry_i64("hsbridge-copy", (int64_t)(br->pub_seq + 1));

	/* Original properties travel unchanged, except those that could lose
	 * the copy (expiration) or that the broker would refuse (user_id). */
	memset(&p, 0, sizeof(p));
	p._flags = orig->_flags &
		   (AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
		    AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
		    AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
		    AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG);
	p.content_type = orig->content_type;
	p.content_encoding = orig->content_encoding;
	p.priority = orig->priority;
	p.correlation_id = orig->correlation_id;
	p.reply_to = orig->reply_to;
	p.message_id = orig->message_id;
	p.timestamp = orig->timestamp;
	p.type = orig->type;
	p.app_id = orig->app_id;
	p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p.headers.num_entries = n;
	p.headers.entries = entries;
	if (d->prepared) {
		/* The copy's routing key is the queue name: the type rides in
		 * the type property, the id in message_id, so that a completed
		 * envelope keeps its id and bytes on every attempt. */
		p._flags |= AMQP_BASIC_TYPE_FLAG;
		p.type = amqp_cstring_bytes(d->ev.type);
		if (!(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG)) {
			p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
			p.message_id = amqp_cstring_bytes(d->ev.id);
		}
		body = d->ev.body;
		len = d->ev.len;
	} else {
		body = d->msg.body.bytes;
		len = d->msg.body.len;
	}

	if (brk_publish(br->brk, PUB_CH, info->exchange, info->routing_key, true, &p, body, len) !=
	    0) {
		free(entries);
		mark_broken(br, "connection lost while publishing a copy");
		delivery_free(d);
		return;
	}
	free(entries);
	d->pub_seq = ++br->pub_seq;
	d->next = br->confirm_head;
	br->confirm_head = d;
}

static void park(struct bridge *br, struct delivery *d, const char *reason)
{
	snprintf(d->copy.exchange, sizeof(d->copy.exchange), "%s", "");
	snprintf(d->copy.routing_key, sizeof(d->copy.routing_key), "%s", d->sub->parked);
	d->copy.reason = reason;
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

static void on_http_done(void *user, const struct disp_result *res, void *arg)
{
	struct delivery *d = user;
	struct bridge *br = arg;
	const struct cfg *cfg = br->cfg;
	struct pol_decision dec;
	char error[CURL_ERROR_SIZE + 32];
	char response[512];
	char next[32] = "";

	if (!res) {
		/* Cancelled because the connection went away: the broker
		 * redelivers the message, nothing to do here. */
		delivery_free(d);
		return;
	}
	dec = pol_decide(res->status, res->retry_after_ms, d->attempt, cfg->retry_delays_ms,
			 cfg->n_delays);
	if (res->status == 0)
		snprintf(error, sizeof(error), "%s", res->error);
	else if (res->status < 200 || res->status > 299)
		snprintf(error, sizeof(error), "HTTP %d", res->status);
	else
		error[0] = '\0';
	printable(res->body, res->body_len, response, sizeof(response));
	if (dec.action == POL_RETRY)
		cfg_format_duration(cfg->retry_delays_ms[dec.delay_index], next, sizeof(next));

	log_line(dec.action == POL_ACK ? LOGL_INFO : LOGL_WARN, "delivery",
		 LOG_S("sub", d->sub->cfg->name), LOG_S("event", d->ev.id),
		 LOG_S("delivery", d->id), LOG_S("type", d->ev.type), LOG_I("attempt", d->attempt),
		 LOG_I("status", res->status), LOG_I("ms", res->ms),
		 LOG_S("outcome", dec.action == POL_ACK	    ? "delivered"
				  : dec.action == POL_RETRY ? "retry"
							    : "parked"),
		 LOG_S("next", dec.action == POL_RETRY ? next : NULL),
		 LOG_S("reason", dec.action == POL_PARK ? pol_reason_name(dec.reason) : NULL),
		 LOG_S("error", error[0] ? error : NULL),
		 LOG_S("response", dec.action != POL_ACK && response[0] ? response : NULL));

	if (br->broken) {
		/* No channel to ack on: the broker redelivers. */
		delivery_free(d);
		return;
	}
	d->copy.attempts = d->attempt;
	d->copy.last_status = res->status;
	snprintf(d->copy.last_error, sizeof(d->copy.last_error), "%s", error);
	switch (dec.action) {
	case POL_ACK:
		ack_original(br, d);
		delivery_free(d);
		break;
	case POL_RETRY:
		topo_retry_name(cfg, dec.delay_index, d->copy.exchange, sizeof(d->copy.exchange));
		snprintf(d->copy.routing_key, sizeof(d->copy.routing_key), "%s", d->sub->queue);
		publish_copy(br, d);
		break;
	case POL_PARK:
		park(br, d, pol_reason_name(dec.reason));
		break;
	}
}

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *name,
				     const char *value)
{
	size_t len = strlen(name) + 2 + strlen(value) + 1;
	char *line;
	struct curl_slist *n;

	if (!*ok)
		return list;
	/* Sized to fit: webhook-signature grows with every previous secret. */
	line = malloc(len);
	if (!line) {
		*ok = false;
		return list;
	}
	snprintf(line, len, "%s: %s", name, value);
	n = curl_slist_append(list, line);
	free(line);
	if (!n) {
		*ok = false;
		return list;
	}
	return n;
}

struct curl_slist *bridge_request_headers(const struct cfg_sub *s, const char *type,
					  const char *delivery_id, unsigned attempt,
					  const void *body, size_t len, long long now)
{
	struct curl_slist *h = NULL;
	char sig[SIG_HEX_LEN];
	char *wsig = NULL;
	char num[32];
	char ts[32];
	bool ok = true;

	snprintf(ts, sizeof(ts), "%lld", now);
	snprintf(num, sizeof(num), "%u", attempt);
	if (sig_healthsync(s->secret, body, len, sig, sizeof(sig)) != 0 ||
	    sig_standard_header(s->secret, s->previous_secrets, s->n_previous, delivery_id, now,
				body, len, &wsig) != 0)
		ok = false;
	h = add_header(h, &ok, "Content-Type", "application/json");
	h = add_header(h, &ok, "User-Agent", "HealthSync-Webhooks/" HSB_VERSION);
	h = add_header(h, &ok, "X-HealthSync-Event", type);
	h = add_header(h, &ok, "X-HealthSync-Delivery", delivery_id);
	h = add_header(h, &ok, "X-HealthSync-Signature", sig);
	h = add_header(h, &ok, "X-HealthSync-Attempt", num);
	h = add_header(h, &ok, "webhook-id", delivery_id);
	h = add_header(h, &ok, "webhook-timestamp", ts);
	h = add_header(h, &ok, "webhook-signature", wsig ? wsig : "");
	/* No "Expect: 100-continue" round trip for larger bodies. */
	if (ok && !(h = curl_slist_append(h, "Expect:")))
		ok = false;
	free(wsig);
	if (!ok) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

static void start_attempt(struct bridge *br, struct delivery *d)
{
	struct disp_request req;

	req.url = d->sub->cfg->url;
	req.body = d->ev.body;
	req.len = d->ev.len;
	req.headers = bridge_request_headers(d->sub->cfg, d->ev.type, d->id, d->attempt, d->ev.body,
					     d->ev.len, wall_s());
	req.timeout_ms = d->sub->cfg->timeout_ms;
	req.user = d;
	/* dispatch frees the headers even when it fails */
	if (!req.headers || disp_submit(br->disp, &req) != 0) {
		struct disp_result res = {.status = 0, .retry_after_ms = -1};

		snprintf(res.error, sizeof(res.error), "could not start the request");
		on_http_done(d, &res, br);
	}
}

static struct sub_rt *sub_by_channel(struct bridge *br, uint16_t ch)
{
	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		if (br->subs[i].channel == ch)
			return &br->subs[i];
	}
	return NULL;
}

static void on_delivery(struct bridge *br, struct brk_event *ev)
{
	struct sub_rt *sub = sub_by_channel(br, ev->channel);
	struct delivery *d;
	struct ev_input in;
	char *mid = NULL;
	char *type = NULL;
	enum ev_status st;

	if (!sub) {
		brk_event_clear(ev);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		mark_broken(br, "out of memory");
		brk_event_clear(ev);
		return;
	}
	/* The delivery takes over the message and routing key. */
	d->br = br;
	d->sub = sub;
	d->tag = ev->delivery_tag;
	d->msg = ev->message;
	d->routing_key = ev->routing_key;
	ev->kind = BRK_OTHER;
	ev->routing_key = NULL;
	br->alive++;

	mid =
	    prop_str(&d->msg.properties, AMQP_BASIC_MESSAGE_ID_FLAG, d->msg.properties.message_id);
	type = prop_str(&d->msg.properties, AMQP_BASIC_TYPE_FLAG, d->msg.properties.type);
	memset(&in, 0, sizeof(in));
	in.body = d->msg.body.bytes;
	in.len = d->msg.body.len;
	in.max_body = br->cfg->max_body_bytes;
	in.message_id = mid;
	in.type_prop = type;
	/* A copy that came back from a retry queue has the queue's name as
	 * routing key; the type property is the event type then. */
	in.routing_key = strcmp(d->routing_key, sub->queue) == 0 ? NULL : d->routing_key;
	in.timestamp = (d->msg.properties._flags & AMQP_BASIC_TIMESTAMP_FLAG)
			   ? (long long)d->msg.properties.timestamp
			   : 0;
	in.now = wall_s();
	st = ev_prepare(&in, &d->ev);
	free(type);
	if (st != EV_OK) {
		const char *reason = pol_reason_name(
		    st == EV_TOO_LARGE ? POL_REASON_PAYLOAD_TOO_LARGE : POL_REASON_INVALID_PAYLOAD);

		log_line(LOGL_WARN, "parked", LOG_S("sub", sub->cfg->name), LOG_S("event", mid),
			 LOG_S("routing_key", d->routing_key), LOG_S("outcome", "parked"),
			 LOG_S("reason", reason), LOG_S("error", d->ev.reason));
		free(mid);
		snprintf(d->copy.last_error, sizeof(d->copy.last_error), "%s", d->ev.reason);
		park(br, d, reason);
		return;
	}
	free(mid);
	d->prepared = true;
	d->attempt = attempts_so_far(&d->msg.properties) + 1;
	ev_delivery_id(sub->cfg->name, d->ev.id, d->id);
	start_attempt(br, d);
}

#define REFUSED_BACKOFF_MIN_MS 500
#define REFUSED_BACKOFF_MAX_MS 30000

/* A copy the broker refused (nacked, or returned for want of a queue) is
 * published again after a backoff. The original stays unacked meanwhile:
 * nothing is lost, the endpoint sees no extra POST, the queue's delivery
 * count does not grow, and max_in_flight holds back new work. */
static void hold_refused(struct bridge *br, struct delivery *d)
{
	long long backoff = REFUSED_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < d->refusals && backoff < REFUSED_BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > REFUSED_BACKOFF_MAX_MS)
		backoff = REFUSED_BACKOFF_MAX_MS;
	d->refusals++;
	log_line(LOGL_ERROR, "copy refused", LOG_S("sub", d->sub->cfg->name),
		 LOG_S("event", d->prepared ? d->ev.id : NULL), LOG_S("to", d->copy.exchange),
		 LOG_S("routing_key", d->copy.routing_key),
		 LOG_S("error", d->returned ? "no queue took the copy; declaring the topology again"
					    : "the broker nacked the copy"),
		 LOG_I("retry_in_ms", backoff));
	d->returned = false;
	hold(br, d, mono_ms() + backoff);
}

static void on_confirm(struct bridge *br, const struct brk_event *ev)
{
	struct delivery **pp = &br->confirm_head;

	while (*pp) {
		struct delivery *d = *pp;
		bool hit =
		    ev->multiple ? d->pub_seq <= ev->delivery_tag : d->pub_seq == ev->delivery_tag;

		if (!hit) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		if (ev->ack && !d->returned) {
			ack_original(br, d);
			delivery_free(d);
		} else {
			hold_refused(br, d);
		}
	}
}

/* Publishes again the refused copies whose backoff is over. */
static void publish_held(struct bridge *br)
{
	struct delivery **pp = &br->held_head;
	long long now = mono_ms();

	while (*pp && !br->broken && !br->blocked) {
		struct delivery *d = *pp;

		if (d->due_ms > now) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		publish_copy(br, d);
	}
}

static void on_return(struct bridge *br, const struct brk_event *ev)
{
	uint64_t seq = header_uint(&ev->message.properties, "hsbridge-copy", UINT64_MAX);

	for (struct delivery *d = br->confirm_head; d; d = d->next) {
		if (d->pub_seq == seq) {
			d->returned = true;
			br->redeclare = true;
			return;
		}
	}
}

/* Puts back what an operator deleted under a running bridge, so that the
 * refused copy finds its queue when it is published again. */
static void redeclare_topology(struct bridge *br)
{
	char err[BRK_ERR_MAX];

	br->redeclare = false;
	if (topo_declare(br->brk, PUB_CH, br->cfg, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "topology", LOG_S("error", err));
		mark_broken(br, "declaring the topology again failed");
	} else {
		log_line(LOGL_WARN, "topology", LOG_S("outcome", "declared again"));
	}
}

static void pump_broker(struct bridge *br)
{
	struct brk_event ev;
	char err[BRK_ERR_MAX];
	bool idle = false;

	for (int i = 0; i < MAX_FRAMES_PER_TURN && !br->broken && !idle; i++) {
		if (brk_next(br->brk, &ev, err, sizeof(err)) != 0) {
			mark_broken(br, err);
			return;
		}
		switch (ev.kind) {
		case BRK_NONE:
			idle = true;
			break;
		case BRK_DELIVERY:
			on_delivery(br, &ev);
			break;
		case BRK_CONFIRM:
			if (ev.channel == PUB_CH)
				on_confirm(br, &ev);
			break;
		case BRK_BLOCKED:
			br->blocked = true;
			log_line(LOGL_WARN, "blocked", LOG_S("reason", ev.text),
				 LOG_S("effect", "retry/parked copies are held until the broker "
						 "unblocks the connection"));
			break;
		case BRK_UNBLOCKED:
			br->blocked = false;
			log_msg(LOGL_INFO, "unblocked");
			break;
		case BRK_CANCEL:
			mark_broken(br, "the broker cancelled a consumer (was a queue deleted?)");
			break;
		case BRK_RETURN:
			if (ev.channel == PUB_CH)
				on_return(br, &ev);
			break;
		case BRK_OTHER:
			break;
		}
		brk_event_clear(&ev);
	}
	if (br->redeclare && !br->broken)
		redeclare_topology(br);
}

static void free_list(struct delivery **head)
{
	while (*head) {
		struct delivery *d = *head;

		*head = d->next;
		delivery_free(d);
	}
}

/* Forgets everything tied to the connection: unacked messages go back to
 * their queues on the broker's side when the connection closes. */
static void drop_session(struct bridge *br)
{
	disp_cancel_all(br->disp, on_http_done, br);
	free_list(&br->confirm_head);
	free_list(&br->held_head);
	brk_close(br->brk);
	br->brk = NULL;
	br->pub_seq = 0;
	br->blocked = false;
	for (size_t i = 0; i < br->cfg->n_subs; i++)
		br->subs[i].channel = 0;
}

/* Connects, declares the topology and starts consuming. Returns 0, EX_UNAVAILABLE or EX_CONFIG. */
static int open_session(struct bridge *br)
{
	const struct cfg *cfg = br->cfg;
	char err[BRK_ERR_MAX];
	int rc;
	uint16_t ch = PUB_CH + 1;

	br->broken = false;
	br->err[0] = '\0';
	rc = brk_connect(cfg->broker_url, cfg->heartbeat_s, cfg->ca_file, "hsbridge run", &br->brk,
			 err, sizeof(err));
	if (rc != 0)
		goto fail;
	log_msg(LOGL_INFO, "connected");
	rc = brk_channel_open(br->brk, PUB_CH, err, sizeof(err));
	if (rc == 0)
		rc = topo_declare(br->brk, PUB_CH, cfg, err, sizeof(err));
	if (rc == 0)
		rc = brk_confirm_select(br->brk, PUB_CH, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < cfg->n_subs; i++) {
		struct sub_rt *s = &br->subs[i];

		if (!s->cfg->active)
			continue;
		rc = brk_channel_open(br->brk, ch, err, sizeof(err));
		if (rc == 0)
			rc =
			    brk_qos(br->brk, ch, (uint16_t)s->cfg->max_in_flight, err, sizeof(err));
		if (rc == 0)
			rc = brk_consume(br->brk, ch, s->queue, s->queue, err, sizeof(err));
		if (rc == 0) {
			s->channel = ch++;
			log_line(LOGL_INFO, "consuming", LOG_S("sub", s->cfg->name),
				 LOG_S("queue", s->queue),
				 LOG_I("max_in_flight", s->cfg->max_in_flight));
		}
	}
	if (rc == 0) {
		log_line(LOGL_INFO, "ready", LOG_I("subscriptions", (long long)cfg->n_subs),
			 LOG_S("version", HSB_VERSION));
		return 0;
	}
fail:
	log_line(LOGL_ERROR, "broker", LOG_S("error", err));
	if (br->brk)
		drop_session(br);
	return rc == BRK_ERR_CHANNEL ? EX_CONFIG : EX_UNAVAILABLE;
}

static int wait_ms(const struct bridge *br)
{
	int ms = 1000;

	if (br->cfg->heartbeat_s > 0 && br->cfg->heartbeat_s * 500 < ms)
		ms = br->cfg->heartbeat_s * 500;
	/* While blocked, held copies wait for "unblocked", not for a time. */
	for (const struct delivery *d = br->blocked ? NULL : br->held_head; d; d = d->next) {
		long long left = d->due_ms - mono_ms();

		if (left < ms)
			ms = left < 0 ? 0 : (int)left;
	}
	if (br->brk && brk_buffered(br->brk))
		ms = 0;
	return ms;
}

/* Cancels every consumer: no new deliveries, the ones in flight finish. */
static void stop_consuming(struct bridge *br)
{
	for (size_t i = 0; br->brk && !br->broken && i < br->cfg->n_subs; i++) {
		if (br->subs[i].channel &&
		    brk_cancel(br->brk, br->subs[i].channel, br->subs[i].queue) != 0)
			mark_broken(br, "connection lost while cancelling consumers");
	}
}

static long max_timeout_ms(const struct cfg *cfg)
{
	long t = cfg->timeout_ms;

	for (size_t i = 0; i < cfg->n_subs; i++) {
		if (cfg->subs[i].timeout_ms > t)
			t = cfg->subs[i].timeout_ms;
	}
	return t;
}

/* Points the runtime subscriptions at cfg. Deliveries borrow them, so this
 * happens only when none is alive. */
static int bind_config(struct bridge *br, struct cfg *cfg)
{
	struct sub_rt *subs = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof(*subs));

	if (!subs)
		return -1;
	for (size_t i = 0; i < cfg->n_subs; i++) {
		subs[i].cfg = &cfg->subs[i];
		topo_sub_queue(cfg, cfg->subs[i].name, subs[i].queue, sizeof(subs[i].queue));
		topo_parked_queue(cfg, cfg->subs[i].name, subs[i].parked, sizeof(subs[i].parked));
	}
	free(br->subs);
	br->subs = subs;
	br->cfg = cfg;
	return 0;
}

/* A new config is valid: the next one to run once in-flight work is done.
 * An invalid one is logged and the running one stays. */
static void stage_reload(struct bridge *br, struct cfg **staged)
{
	struct cfg *next = NULL;
	char err[1024];

	if (cfg_load(br->cfg->path, &next, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "reload",
			 LOG_S("outcome", *staged ? "rejected; the config accepted before it still "
						    "applies"
						  : "rejected; the running config stays"),
			 LOG_S("error", err));
		return;
	}
	for (size_t i = 0; i < next->n_warnings; i++)
		log_line(LOGL_WARN, "config", LOG_S("warning", next->warnings[i]));
	cfg_free(*staged);
	*staged = next;
	log_line(LOGL_INFO, "reload", LOG_S("outcome", "accepted; draining in-flight deliveries"),
		 LOG_I("in_flight", (long long)br->alive));
	stop_consuming(br);
}

static bool has_pattern(const struct cfg_sub *s, const char *pattern)
{
	for (size_t i = 0; i < s->n_events; i++) {
		if (strcmp(s->events[i], pattern) == 0)
			return true;
	}
	return false;
}

/* Declaring binds what the config lists but cannot unbind what it no longer
 * lists (AMQP cannot list bindings): after a reload, unbind what the
 * previous config bound and the new one does not want, including the
 * patterns of removed subscriptions, whose queues are kept. */
static void unbind_retired(struct bridge *br)
{
	const struct cfg *old = br->retired;
	const struct cfg *now = br->cfg;
	char queue[BRK_NAME_MAX];
	char err[BRK_ERR_MAX];

	bool all = true;

	if (!old)
		return;
	for (size_t i = 0; i < old->n_subs && !br->broken; i++) {
		const struct cfg_sub *os = &old->subs[i];
		const struct cfg_sub *ns = cfg_find_sub(now, os->name);
		bool same_place = ns && strcmp(old->prefix, now->prefix) == 0 &&
				  strcmp(old->exchange, now->exchange) == 0;

		if (!os->active)
			continue;
		topo_sub_queue(old, os->name, queue, sizeof(queue));
		for (size_t j = 0; j < os->n_events && !br->broken; j++) {
			if (same_place && ns->active && has_pattern(ns, os->events[j]))
				continue;
			if (brk_bind(br->brk, PUB_CH, queue, old->exchange, os->events[j], false,
				     err, sizeof(err)) != 0) {
				log_line(LOGL_ERROR, "unbind", LOG_S("queue", queue),
					 LOG_S("pattern", os->events[j]), LOG_S("error", err));
				/* The channel lost confirm mode: start over, and
				 * try the unbinding again with the next session. */
				mark_broken(br, "unbinding after a reload failed");
				all = false;
			} else {
				log_line(LOGL_INFO, "unbind", LOG_S("queue", queue),
					 LOG_S("pattern", os->events[j]));
			}
		}
	}
	if (all && !br->broken) {
		cfg_free(br->retired);
		br->retired = NULL;
	}
}

/* Swaps in the staged config once nothing borrows the running one. A config
 * whose topology the broker refuses (a queue with other arguments) is
 * rejected like an invalid file: the running one comes back. */
static void apply_reload(struct bridge *br, struct cfg **cfgp, struct cfg **staged)
{
	struct cfg *old = *cfgp;
	int rc;

	if (br->brk)
		drop_session(br);
	if (bind_config(br, *staged) != 0) {
		cfg_free(*staged);
		*staged = NULL;
		return;
	}
	rc = open_session(br);
	if (rc == EX_CONFIG && bind_config(br, old) == 0) {
		log_line(LOGL_ERROR, "reload",
			 LOG_S("outcome", "rejected; the running config stays"),
			 LOG_S("error", "the broker refused the new config's topology (see the "
					"broker line before this one)"));
		cfg_free(*staged);
		*staged = NULL;
		return;
	}
	*cfgp = *staged;
	*staged = NULL;
	/* Keep the oldest config not yet unbound: a config that never had a
	 * session bound nothing. */
	if (br->retired)
		cfg_free(old);
	else
		br->retired = old;
	log_line(LOGL_INFO, "reload", LOG_S("outcome", "applied"),
		 LOG_I("subscriptions", (long long)br->cfg->n_subs));
	if (rc == 0)
		unbind_retired(br);
}

int bridge_run(struct cfg **cfgp)
{
	struct bridge br;
	struct cfg *staged = NULL;
	int rc;
	bool stopping = false;
	long long stop_deadline = 0;
	long long reconnect_at = 0;
	long backoff = 500;

	memset(&br, 0, sizeof(br));
	br.disp = disp_new();
	if (!br.disp || bind_config(&br, *cfgp) != 0) {
		rc = EX_TEMPFAIL; /* out of memory: temporary */
		goto out;
	}
	rc = open_session(&br);
	if (rc != 0)
		goto out;

	for (;;) {
		struct curl_waitfd wfd;

		if (stop_requested && !stopping) {
			stopping = true;
			stop_deadline = mono_ms() + max_timeout_ms(br.cfg) + 5000;
			log_line(LOGL_INFO, "shutdown", LOG_S("phase", "stop consuming"),
				 LOG_I("in_flight", (long long)br.alive));
			stop_consuming(&br);
		}
		if (stopping && (br.alive == 0 || mono_ms() > stop_deadline))
			break;
		if (reload_requested && !stopping) {
			reload_requested = 0;
			stage_reload(&br, &staged);
		}
		/* Deliveries that arrived during the consumer cancels sit in
		 * rabbitmq-c's buffer: take them in before closing. */
		if (staged && !stopping && br.alive == 0 && !(br.brk && brk_buffered(br.brk))) {
			apply_reload(&br, cfgp, &staged);
			reconnect_at = 0;
			backoff = 500;
		}
		if (!br.brk) {
			if (stopping)
				break;
			if (mono_ms() >= reconnect_at) {
				log_msg(LOGL_WARN, "reconnecting");
				if (open_session(&br) == 0) {
					unbind_retired(&br);
					backoff = 500;
				} else {
					backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS
										 : backoff * 2;
					reconnect_at = mono_ms() + backoff;
				}
			}
			if (!br.brk) {
				disp_wait(br.disp, NULL, 0, 200);
				continue;
			}
		}
		pump_broker(&br);
		disp_collect(br.disp, on_http_done, &br);
		publish_held(&br);
		if (br.broken) {
			log_line(LOGL_ERROR, "connection lost", LOG_S("error", br.err),
				 LOG_I("in_flight", (long long)br.alive));
			drop_session(&br);
			reconnect_at = mono_ms() + backoff;
			continue;
		}
		wfd.fd = brk_fd(br.brk);
		wfd.events = CURL_WAIT_POLLIN;
		wfd.revents = 0;
		disp_wait(br.disp, &wfd, 1, wait_ms(&br));
	}
	log_line(LOGL_INFO, "shutdown", LOG_S("phase", "done"),
		 LOG_I("handed_back", (long long)br.alive));
	rc = 0;
out:
	if (br.brk)
		drop_session(&br);
	cfg_free(staged);
	cfg_free(br.retired);
	disp_free(br.disp);
	free(br.subs);
	return rc;
}
