/* hsb-loadgen: publishes COUNT complete envelopes as a busy service would
 * (persistent, publisher confirms, a window of unconfirmed messages), for
 * scripts/bench. Not part of the product.
 *
 *   hsb-loadgen [-r RATE] [-p PREFIX] [-s SUB -o FILE] AMQP_URL EXCHANGE TYPE COUNT BYTES
 *
 * Each body is BYTES long (at least about 150): an envelope whose id is
 * PREFIX<n> (default "evt_bench_") and whose data carries the publish time,
 * {"sent_us":<microseconds since the epoch>,"pad":"xxx..."}.
 * -r RATE  paces the publishes: event n goes out at start + n/RATE seconds
 *          (absolute deadlines, so a late one does not delay the rest);
 *          default: as fast as the window of confirms allows.
 * -s SUB -o FILE  writes one line per event to FILE, "DELIVERY_ID SENT_US":
 *          the delivery id the bridge gives that event for subscription SUB
 *          (its webhook-id header), and the wall clock (CLOCK_REALTIME, us)
 *          just before the event was handed to the socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hsbridge/broker.h"
#include "hsbridge/event.h"

#define WINDOW 512

struct opts {
	double rate;
	const char *prefix;
	const char *sub;
	const char *out;
	const char *url, *exchange, *type;
	long count, bytes;
};

static long long now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->prefix = "evt_bench_";
	while ((c = getopt(argc, argv, "r:p:s:o:")) != -1) {
		if (c == 'r')
			o->rate = strtod(optarg, NULL);
		else if (c == 'p')
			o->prefix = optarg;
		else if (c == 's')
			o->sub = optarg;
		else if (c == 'o')
			o->out = optarg;
		else
			return -1;
	}
	if (argc - optind != 5 || (o->sub == NULL) != (o->out == NULL) || o->rate < 0)
		return -1;
	o->url = argv[optind];
	o->exchange = argv[optind + 1];
	o->type = argv[optind + 2];
	o->count = strtol(argv[optind + 3], NULL, 10);
	o->bytes = strtol(argv[optind + 4], NULL, 10);
	if (o->count <= 0 || o->bytes < 0 || o->bytes > 16L << 20)
		return -1;
	return 0;
}

/* The envelope of event n, padded to o->bytes when it is shorter. */
static int envelope(const struct opts *o, long n, long long sent_us, char *id, size_t idlen,
		    char *body, size_t cap)
{
	int head, pad;

	snprintf(id, idlen, "%s%ld", o->prefix, n);
	head = snprintf(body, cap,
			"{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":\"2024-02-27T10:30:00Z\","
			"\"data\":{\"sent_us\":%lld,\"pad\":\"",
			id, o->type, sent_us);
	pad = (int)o->bytes - head - 4;
	if (pad < 0)
		pad = 0;
	memset(body + head, 'x', (size_t)pad);
	memcpy(body + head + pad, "\"}}", 4);
	return head + pad + 3;
}

/* Waits for confirms (up to timeout_ms for the first); -1 on a nack or a
 * lost connection. */
static int take_confirms(struct brk *b, long *confirmed, int timeout_ms)
{
	char err[BRK_ERR_MAX];
	struct brk_event ev;
	int rc;

	for (;;) {
		rc = timeout_ms > 0 ? brk_wait(b, &ev, timeout_ms, err, sizeof(err))
				    : brk_next(b, &ev, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "loadgen: %s\n", err);
			return -1;
		}
		if (ev.kind == BRK_NONE)
			return 0;
		if (ev.kind == BRK_CONFIRM && !ev.ack) {
			fprintf(stderr, "loadgen: the broker nacked a message\n");
			brk_event_clear(&ev);
			return -1;
		}
		if (ev.kind == BRK_CONFIRM)
			*confirmed = ev.multiple ? (long)ev.delivery_tag : *confirmed + 1;
		brk_event_clear(&ev);
		timeout_ms = 0;
	}
}

static void pace(const struct opts *o, long n, long long t0_mono)
{
	long long due = t0_mono + (long long)((double)n * 1e6 / o->rate);
	struct timespec ts = {.tv_sec = due / 1000000, .tv_nsec = (due % 1000000) * 1000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int publish_all(struct brk *b, const struct opts *o, FILE *out, char *body, size_t cap)
{
	long sent = 0, confirmed = 0;
	long long t0 = now_us(CLOCK_MONOTONIC);
	char id[128];
	char did[37];

	while (confirmed < o->count) {
		while (sent < o->count && sent - confirmed < WINDOW) {
			amqp_basic_properties_t p;
			long long sent_us;
			int n;

			if (o->rate > 0) {
				if (take_confirms(b, &confirmed, 0) != 0)
					return -1;
				pace(o, sent, t0);
			}
			sent_us = now_us(CLOCK_REALTIME);
			n = envelope(o, sent, sent_us, id, sizeof(id), body, cap);
			memset(&p, 0, sizeof(p));
			p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
				   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
			p.content_type = amqp_cstring_bytes("application/json");
			p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
			p.message_id = amqp_cstring_bytes(id);
			p.type = amqp_cstring_bytes(o->type);
			if (brk_publish(b, 1, o->exchange, o->type, false, &p, body, (size_t)n) != 0) {
				fprintf(stderr, "loadgen: connection lost\n");
				return -1;
			}
			if (out) {
				ev_delivery_id(o->sub, id, did);
				fprintf(out, "%s %lld\n", did, sent_us);
			}
			sent++;
		}
		if (confirmed < o->count && take_confirms(b, &confirmed, 1000) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct brk *b = NULL;
	struct opts o;
	char err[BRK_ERR_MAX];
	FILE *out = NULL;
	char *body;
	size_t cap;
	long long t0;
	int rc;

	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: hsb-loadgen [-r RATE] [-p PREFIX] [-s SUB -o FILE] "
				"AMQP_URL EXCHANGE TYPE COUNT BYTES\n");
		return 64;
	}
	cap = (size_t)o.bytes + 512;
	body = malloc(cap);
	if (!body)
		return 70;
	if (o.out && !(out = fopen(o.out, "w"))) {
		perror(o.out);
		return 73;
	}
	if (brk_connect(o.url, 0, NULL, "hsb-loadgen", &b, err, sizeof(err)) != 0 ||
	    brk_channel_open(b, 1, err, sizeof(err)) != 0 ||
	    brk_confirm_select(b, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 69;
	}
	t0 = now_us(CLOCK_MONOTONIC);
	rc = publish_all(b, &o, out, body, cap);
	if (rc == 0)
		printf("loadgen: published %ld events of %ld bytes in %.2f s (confirmed)\n", o.count,
		       o.bytes, (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e6);
	brk_close(b);
	if (out && fclose(out) != 0)
		rc = -1;
	free(body);
	return rc == 0 ? 0 : 69;
}
