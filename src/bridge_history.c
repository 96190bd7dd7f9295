/* bridge_history: every attempt recorded in the stream <prefix>.attempts
 * (issue 11), off the delivery path. A record is formatted where the relay
 * logs the attempt and queued (bounded); once per turn of the loop the
 * queue goes out in a batch on its own confirm channel (HIST_CH) of the
 * publishing connection. Nothing waits for it: a delivery's ack never
 * depends on a record, and a record that cannot be kept (the queue full,
 * the broker refuses it, no stream takes it, the connection is lost before
 * its confirm) is dropped and counted, with a log line at most every
 * DROP_LOG_EVERY_MS and hsbridge_history_dropped_total. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bridge_int.h"
#include "hsbridge/clock.h"
#include "hsbridge/event.h"
#include "hsbridge/history.h"
#include "hsbridge/log.h"
#include "hsbridge/topology.h"

/* What may wait for the publishing connection: about 5 MB at most. */
#define QUEUE_RECORDS 10000
#define QUEUE_BYTES (8u << 20)
/* Published and not yet confirmed, at most: some 150 KB, below what a
 * socket's send buffer holds, so that a broker slow to take records leaves
 * them in the queue above rather than in a write that waits. */
#define WINDOW 256
/* Records per write: a turn sends at most WINDOW of them, in writes of this
 * many. */
#define WRITE_EVERY 32
#define DROP_LOG_EVERY_MS 10000
/* A returned record (the stream was deleted) declares the topology again,
 * at most this often. */
#define REDECLARE_EVERY_MS 5000
/* A reload or SIGTERM waits at most this long for the records still to be
 * published or confirmed (SIGTERM: never past its own deadline). */
#define SETTLE_GRACE_MS 1000

struct hist_pub {
	struct hist_queue queue;
	/* Confirm numbering of HIST_CH: published lo..next-1, done[] marks
	 * those settled out of order. */
	uint64_t lo, next;
	bool done[WINDOW];
	unsigned returned; /* returns whose ack is still to come */
	uint64_t dropped_unlogged;
	long long logged_at_ms;
	long long redeclared_at_ms;
	long long unsettled_since_ms; /* history_settled first said no; 0: it did not */
	char host[256];
	long pid;
};

int history_start(struct bridge *br)
{
	struct hist_pub *h = calloc(1, sizeof(*h));

	if (!h || hist_queue_init(&h->queue, QUEUE_RECORDS, QUEUE_BYTES) != 0) {
		free(h);
		return -1;
	}
	if (gethostname(h->host, sizeof(h->host) - 1) != 0)
		snprintf(h->host, sizeof(h->host), "%s", "unknown");
	h->pid = (long)getpid();
	h->lo = h->next = 1;
	h->logged_at_ms = h->redeclared_at_ms = -DROP_LOG_EVERY_MS;
	br->hist = h;
	return 0;
}

static void log_drops(struct bridge *br, bool now_or_never)
{
	struct hist_pub *h = br->hist;
	long long now = clk_mono_ms();
	uint64_t total = 0;

	if (!h->dropped_unlogged || (!now_or_never && now - h->logged_at_ms < DROP_LOG_EVERY_MS))
		return;
	for (int k = 0; k < PROM_HIST_N_DROPS; k++)
		total += br->prom.history_dropped[k];
	log_line(LOGL_WARN, "history dropped", LOG_I("dropped", (long long)h->dropped_unlogged),
		 LOG_I("dropped_total", (long long)total),
		 LOG_I("buffer_full", (long long)br->prom.history_dropped[PROM_HIST_BUFFER_FULL]),
		 LOG_I("refused", (long long)br->prom.history_dropped[PROM_HIST_REFUSED]),
		 LOG_I("unroutable", (long long)br->prom.history_dropped[PROM_HIST_UNROUTABLE]),
		 LOG_I("unconfirmed", (long long)br->prom.history_dropped[PROM_HIST_UNCONFIRMED]),
		 LOG_S("effect", "attempt records lost from the history stream; deliveries go on"));
	h->dropped_unlogged = 0;
	h->logged_at_ms = now;
}

static void drop(struct bridge *br, enum prom_hist_drop why, uint64_t n)
{
	br->prom.history_dropped[why] += n;
	br->hist->dropped_unlogged += n;
	log_drops(br, false);
}

void history_stop(struct bridge *br)
{
	if (!br->hist)
		return;
	/* What never went out is lost with the process: said, and counted. */
	if (br->hist->queue.n)
		drop(br, PROM_HIST_UNCONFIRMED, br->hist->queue.n);
	log_drops(br, true);
	hist_queue_free(&br->hist->queue);
	free(br->hist);
	br->hist = NULL;
}

static long long wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Queues r (its bridge fields filled here), or counts it dropped. */
static void enqueue(struct bridge *br, struct hist_record *r)
{
	struct hist_pub *h = br->hist;
	char *json = NULL;
	size_t len = 0;

	r->ts_ms = wall_ms();
	r->host = h->host;
	r->pid = h->pid;
	if (hist_format(r, (size_t)br->cfg->history.response_bytes, &json, &len) != 0 ||
	    !hist_queue_push(&h->queue, json, len, r->sub, r->outcome))
		drop(br, PROM_HIST_BUFFER_FULL, 1);
}

void history_record(struct bridge *br, const struct delivery *d, const struct disp_result *res,
		    const char *outcome, const char *next, const char *error)
{
	struct hist_record r;

	if (!br->hist || !br->cfg->history.enabled)
		return;
	memset(&r, 0, sizeof(r));
	r.sub = d->sub->cfg->name;
	r.event = d->ev.id;
	r.type = d->ev.type;
	r.delivery = d->id;
	r.attempt = d->attempt;
	r.status = res->status;
	r.ms = res->ms;
	r.outcome = outcome;
	r.next = next;
	r.error = error;
	r.response = res->body;
	r.response_len = res->body_len;
	enqueue(br, &r);
}

void history_invalid(struct bridge *br, const struct delivery *d, const char *mid, const char *why)
{
	struct hist_record r;
	char delivery[40];

	if (!br->hist || !br->cfg->history.enabled)
		return;
	memset(&r, 0, sizeof(r));
	r.sub = d->sub->cfg->name;
	r.event = mid;
	if (mid) {
		ev_delivery_id(r.sub, mid, delivery);
		r.delivery = delivery;
	}
	r.type = d->routing_key;
	r.outcome = "parked";
	r.error = why;
	enqueue(br, &r);
}

int history_open_channel(struct bridge *br, char *err, size_t errlen)
{
	int rc;

	if (!br->cfg->history.enabled)
		return 0;
	rc = brk_channel_open(br->pub, HIST_CH, err, errlen);
	if (rc == 0)
		rc = brk_confirm_select(br->pub, HIST_CH, err, errlen);
	br->hist->lo = br->hist->next = 1;
	memset(br->hist->done, 0, sizeof(br->hist->done));
	br->hist->returned = 0;
	return rc;
}

/* What was published and not confirmed has an unknown fate: dropped. */
void history_pub_lost(struct bridge *br)
{
	struct hist_pub *h = br->hist;
	uint64_t n = 0;

	if (!h)
		return;
	for (uint64_t s = h->lo; s < h->next; s++)
		n += h->done[s % WINDOW] ? 0 : 1;
	if (n)
		drop(br, PROM_HIST_UNCONFIRMED, n);
	h->lo = h->next = 1;
	memset(h->done, 0, sizeof(h->done));
	h->returned = 0;
}

static void settle(struct bridge *br, uint64_t seq, bool ack)
{
	struct hist_pub *h = br->hist;

	if (seq < h->lo || seq >= h->next || h->done[seq % WINDOW])
		return;
	h->done[seq % WINDOW] = true;
	if (!ack)
		drop(br, PROM_HIST_REFUSED, 1);
	else if (h->returned > 0)
		h->returned--; /* counted when it came back */
	else
		br->prom.history_written++;
	while (h->lo < h->next && h->done[h->lo % WINDOW])
		h->done[h->lo++ % WINDOW] = false;
}

void history_on_confirm(struct bridge *br, const struct brk_event *ev)
{
	struct hist_pub *h = br->hist;

	if (!h)
		return;
	if (!ev->multiple) {
		settle(br, ev->delivery_tag, ev->ack);
		return;
	}
	for (uint64_t s = h->lo; s <= ev->delivery_tag && s < h->next; s++)
		settle(br, s, ev->ack);
}

/* No queue took a record: the stream was deleted. Declare the topology
 * again (as for a returned copy), at most every REDECLARE_EVERY_MS. */
void history_on_return(struct bridge *br)
{
	struct hist_pub *h = br->hist;
	long long now = clk_mono_ms();

	if (!h)
		return;
	h->returned++;
	drop(br, PROM_HIST_UNROUTABLE, 1);
	if (now - h->redeclared_at_ms >= REDECLARE_EVERY_MS) {
		h->redeclared_at_ms = now;
		br->redeclare = true;
	}
}

static void record_props(amqp_basic_properties_t *p, amqp_table_entry_t hdr[2],
			 const struct hist_item *it)
{
	memset(p, 0, sizeof(*p));
	p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		    AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p->content_type = amqp_cstring_bytes("application/json");
	p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p->timestamp = (uint64_t)clk_wall_s();
	hdr[0] = brk_entry_str("sub", it->sub);
	hdr[1] = brk_entry_str("outcome", it->outcome);
	p->headers.num_entries = 2;
	p->headers.entries = hdr;
}

bool history_settled(const struct bridge *br)
{
	struct hist_pub *h = br->hist;
	long long now = clk_mono_ms();

	if (!h || !br->cfg->history.enabled || !bridge_pub_ready(br) ||
	    (h->queue.n == 0 && h->lo == h->next)) {
		if (h)
			h->unsettled_since_ms = 0;
		return true;
	}
	if (h->unsettled_since_ms == 0)
		h->unsettled_since_ms = now;
	return now - h->unsettled_since_ms >= SETTLE_GRACE_MS;
}

/* The batch of this turn: what waits, up to the confirm window. */
void history_publish(struct bridge *br)
{
	struct hist_pub *h = br->hist;
	char stream[BRK_NAME_MAX];
	const struct hist_item *it;
	unsigned batched = 0;

	if (!h)
		return;
	log_drops(br, false);
	/* A reload turned history off: what waited goes unwritten. */
	while (!br->cfg->history.enabled && hist_queue_peek(&h->queue))
		hist_queue_pop(&h->queue);
	br->prom.history_buffered = (long)(h->queue.n + (h->next - h->lo));
	if (!br->cfg->history.enabled || !bridge_pub_ready(br) || br->broken)
		return;
	topo_attempts_queue(br->cfg, stream, sizeof(stream));
	brk_batch_begin(br->pub);
	while ((it = hist_queue_peek(&h->queue)) && h->next - h->lo < WINDOW) {
		amqp_basic_properties_t p;
		amqp_table_entry_t hdr[2];

		record_props(&p, hdr, it);
		/* mandatory: a deleted stream returns the record (counted). */
		if (brk_publish(br->pub, HIST_CH, "", stream, true, &p, it->json, it->len) != 0) {
			brk_batch_drop(br->pub);
			bridge_mark_pub_broken(br, "connection lost while publishing history");
			return;
		}
		h->done[h->next++ % WINDOW] = false;
		hist_queue_pop(&h->queue);
		/* A write now and then lets the broker start on the first
		 * records (and confirm them) while the rest are encoded. */
		if (++batched % WRITE_EVERY == 0 && brk_batch_flush(br->pub) != 0) {
			brk_batch_drop(br->pub);
			bridge_mark_pub_broken(br, "connection lost while publishing history");
			return;
		}
	}
	if (brk_batch_end(br->pub) != 0) {
		bridge_mark_pub_broken(br, "connection lost while publishing history");
		return;
	}
	br->prom.history_buffered = (long)(h->queue.n + (h->next - h->lo));
}
