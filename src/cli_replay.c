/* cli_replay: `hsbridge replay SUB [--limit N]`, parked messages back into
 * the subscription's queue with their attempts reset. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/copy.h"
#include "hsbridge/mark.h"
#include "hsbridge/topology.h"
#include "hsbridge/wire.h"

#include "cli_int.h"

#define NAME_MAX_SHOWN 128

/* Connects for a replay of sub: its queue and parked queue names, and how
 * many to move: at most what is parked now, so that a message parked again
 * at once (410, invalid payload) while a bridge runs cannot make the replay
 * loop forever. */
static int replay_start(const struct cfg *cfg, const struct cfg_sub *s, struct brk **b,
			char queue[BRK_NAME_MAX], char parked[BRK_NAME_MAX], long *limit)
{
	char err[BRK_ERR_MAX];
	uint32_t waiting = 0, consumers = 0;
	int rc = cli_connect_channel(cfg, "hsbridge replay", true, b, NULL);

	if (rc != EX_OK)
		return rc;
	topo_sub_queue(cfg, s->name, queue, BRK_NAME_MAX);
	topo_parked_queue(cfg, s->name, parked, BRK_NAME_MAX);
	if (brk_queue_counts(*b, 1, parked, &waiting, &consumers, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsbridge: %s: %s\n", parked, err);
		brk_close(*b);
		*b = NULL;
		return EX_UNAVAILABLE;
	}
	if (*limit < 0 || (unsigned long)*limit > waiting)
		*limit = (long)waiting;
	return EX_OK;
}

/* The message as stderr names it: its message_id in printable ASCII (any
 * other byte as '?'), or "without a message_id". */
static void message_name(const amqp_basic_properties_t *p, char *buf, size_t len)
{
	size_t n = 0;

	if (!(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) || p->message_id.len == 0) {
		snprintf(buf, len, "%s", "without a message_id");
		return;
	}
	for (size_t i = 0; i < p->message_id.len && n + 1 < len && i < NAME_MAX_SHOWN; i++) {
		unsigned char c = ((const unsigned char *)p->message_id.bytes)[i];

		buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[n] = '\0';
}

/* The copy of ev to publish: bookkeeping dropped (attempts start over), the
 * rest kept; when that cannot fit in one frame, without the publisher's
 * headers, as the bridge parks such copies (DESIGN section 9), and said on
 * stderr. EX_OK with *c (free with copy_props_free; it borrows mark),
 * EX_DATAERR when even that cannot fit (said), EX_TEMPFAIL when out of
 * memory (said). */
static int replay_copy(struct brk *b, const struct cfg_sub *s, const struct brk_event *ev,
		       const char *name, char mark[MARK_HEX_LEN + 1], struct copy_props *c)
{
	struct copy_marks m = {0};
	struct mark_input in = {.sub = s->name,
				.attempts = 0,
				.first_failure_at = "",
				.body = ev->message.body.bytes,
				.len = ev->message.body.len};
	size_t size;

	/* Sealed as the bridge's own copy with no attempts: the bridge takes
	 * its body as it is (an envelope it completed may be a little over
	 * max_body_bytes) and counts from attempt 1. */
	if (mark_compute(s->secret, &in, mark) == 0)
		m.mark = mark;

	for (;;) {
		if (copy_build(&ev->message.properties, &m, c) != 0) {
			fprintf(stderr, "hsbridge: out of memory\n");
			return EX_TEMPFAIL;
		}
		size = wire_header_frame_size(&c->p);
		if (size <= brk_frame_max(b))
			return EX_OK;
		copy_props_free(c);
		if (m.drop_headers) {
			fprintf(stderr,
				"hsbridge: message %s cannot be replayed: even without its headers "
				"its properties do not fit in one AMQP frame (frame_max %zu); it "
				"stays at the head of the parked queue: take it off with the "
				"management UI (Get messages, Ack mode \"Reject requeue false\") "
				"and publish it again with smaller properties\n",
				name, brk_frame_max(b));
			return EX_DATAERR;
		}
		fprintf(stderr,
			"hsbridge: message %s: headers dropped: the publisher's headers do not fit "
			"in one AMQP frame (%zu bytes, frame_max %zu); replaying it without them\n",
			name, size, brk_frame_max(b));
		m.drop_headers = true;
	}
}

/* Publishes ev's copy to queue and waits for its confirm. EX_OK, or a
 * sysexits code once the reason is on stderr; the message is not acked. */
static int replay_one(struct brk *b, const struct cfg_sub *s, const struct brk_event *ev,
		      const char *queue)
{
	char name[NAME_MAX_SHOWN + 1];
	char err[BRK_ERR_MAX];
	struct copy_props c;
	char mark[MARK_HEX_LEN + 1]; /* c borrows it until the publish */
	bool returned = false;
	int rc;

	message_name(&ev->message.properties, name, sizeof(name));
	if (ev->dropped)
		fprintf(stderr, "hsbridge: message %s: %s\n", name, brk_dropped_text(ev->dropped));
	rc = replay_copy(b, s, ev, name, mark, &c);
	if (rc != EX_OK)
		return rc;
	rc = brk_publish(b, 1, "", queue, true, &c.p, ev->message.body.bytes, ev->message.body.len);
	copy_props_free(&c);
	if (rc == BRK_ERR_TOO_LARGE) {
		fprintf(stderr, "hsbridge: message %s: its properties do not fit in one frame\n",
			name);
		return EX_DATAERR;
	}
	if (rc != 0) {
		fprintf(stderr, "hsbridge: connection lost while publishing\n");
		return EX_UNAVAILABLE;
	}
	rc = cli_await_confirm(b, &returned, err, sizeof(err));
	if (rc == EX_OK && returned) {
		snprintf(err, sizeof(err), "queue %s does not exist (run hsbridge topology)",
			 queue);
		rc = EX_UNAVAILABLE;
	}
	if (rc != EX_OK)
		fprintf(stderr, "hsbridge: %s\n", err);
	return rc;
}

/* Moves parked messages back, one at a time: each is acked in the parked
 * queue only after the broker confirmed its copy in the subscription queue.
 * One that fails stays parked. */
int cli_cmd_replay(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	const struct cfg_sub *s = cli_find_sub(cfg, a->operand[0]);
	struct brk *b = NULL;
	char queue[BRK_NAME_MAX], parked[BRK_NAME_MAX];
	char err[BRK_ERR_MAX];
	long limit = a->limit;
	long moved = 0;
	int rc;

	if (!s)
		return EX_USAGE;
	rc = replay_start(cfg, s, &b, queue, parked, &limit);
	if (rc != EX_OK)
		return rc;
	while (moved < limit) {
		struct brk_event ev;

		if (brk_get(b, 1, parked, &ev, err, sizeof(err)) != 0) {
			fprintf(stderr, "hsbridge: %s\n", err);
			brk_event_clear(&ev);
			rc = EX_UNAVAILABLE;
			break;
		}
		if (ev.kind != BRK_DELIVERY)
			break;
		rc = replay_one(b, s, &ev, queue);
		if (rc == EX_OK &&
		    (brk_ack(b, 1, ev.delivery_tag) != 0 || brk_flush_acks(b) != 0)) {
			fprintf(stderr,
				"hsbridge: connection lost while acking; the message may now "
				"be both replayed and parked\n");
			rc = EX_UNAVAILABLE;
		}
		brk_event_clear(&ev);
		if (rc != EX_OK)
			break;
		moved++;
	}
	brk_close(b);
	printf("replayed %ld message%s from %s to %s\n", moved, moved == 1 ? "" : "s", parked,
	       queue);
	return rc;
}
