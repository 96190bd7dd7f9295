/* loadgen: publishes COUNT complete envelopes as a busy service would
 * (persistent, publisher confirms, a window of unconfirmed messages), for
 * scripts/bench. Not part of the product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsbridge/broker.h"

#define WINDOW 512

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct brk *b = NULL;
	struct brk_event ev;
	char err[BRK_ERR_MAX];
	char id[64];
	char *body;
	long count, pad;
	long sent = 0, confirmed = 0;
	double t0;

	if (argc != 6) {
		fprintf(stderr, "usage: hsb-loadgen AMQP_URL EXCHANGE TYPE COUNT PAD_BYTES\n");
		return 64;
	}
	count = strtol(argv[4], NULL, 10);
	pad = strtol(argv[5], NULL, 10);
	if (count <= 0 || pad < 0 || pad > 1 << 20)
		return 64;
	body = malloc((size_t)pad + 256);
	if (!body)
		return 70;
	if (brk_connect(argv[1], 0, NULL, "hsb-loadgen", &b, err, sizeof(err)) != 0 ||
	    brk_channel_open(b, 1, err, sizeof(err)) != 0 ||
	    brk_confirm_select(b, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 69;
	}
	t0 = now_s();
	while (confirmed < count) {
		while (sent < count && sent - confirmed < WINDOW) {
			amqp_basic_properties_t p;
			int n;

			snprintf(id, sizeof(id), "evt_bench_%ld", sent);
			n = snprintf(
			    body, (size_t)pad + 256,
			    "{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":"
			    "\"2024-02-27T10:30:00Z\",\"data\":{\"object\":{\"pad\":\"%*s\"}}}",
			    id, argv[3], (int)pad, "");
			memset(&p, 0, sizeof(p));
			p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
				   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
			p.content_type = amqp_cstring_bytes("application/json");
			p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
			p.message_id = amqp_cstring_bytes(id);
			p.type = amqp_cstring_bytes(argv[3]);
			if (brk_publish(b, 1, argv[2], argv[3], false, &p, body, (size_t)n) != 0) {
				fprintf(stderr, "loadgen: connection lost\n");
				return 69;
			}
			sent++;
		}
		if (brk_wait(b, &ev, 1000, err, sizeof(err)) != 0) {
			fprintf(stderr, "loadgen: %s\n", err);
			return 69;
		}
		if (ev.kind == BRK_CONFIRM) {
			if (!ev.ack) {
				fprintf(stderr, "loadgen: the broker nacked a message\n");
				return 75;
			}
			confirmed = ev.multiple ? (long)ev.delivery_tag : confirmed + 1;
		}
		brk_event_clear(&ev);
	}
	printf("published %ld events in %.2f s (%.0f/s, confirmed)\n", count, now_s() - t0,
	       (double)count / (now_s() - t0));
	brk_close(b);
	free(body);
	return 0;
}
