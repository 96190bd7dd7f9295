/* broker_acks: acks recorded per channel and sent coalesced (acks.h). One
 * basic.ack per message cost a write each, and the broker a settle each;
 * recorded during a loop turn and flushed before the loop waits, the
 * decided run of a channel goes out as one ack with multiple set. A
 * channel's ledger lives and dies with the connection: tags start over on a
 * new connection or a reopened channel, and nothing recorded on one is ever
 * sent on another. */
#include "hsbridge/broker.h"

#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

/* The ledger of channel ch, grown on first use; NULL when out of memory. */
static struct acks *ledger(struct brk *b, uint16_t ch)
{
	if (ch >= b->n_acks) {
		size_t n = (size_t)ch + 1;
		struct acks *a = realloc(b->acks, n * sizeof(*a));

		if (!a)
			return NULL;
		for (size_t i = b->n_acks; i < n; i++)
			acks_init(&a[i]);
		b->acks = a;
		b->n_acks = n;
	}
	return &b->acks[ch];
}

int brk_acks_received(struct brk *b, uint16_t ch, uint64_t tag)
{
	struct acks *a = ledger(b, ch);

	return a ? acks_received(a, tag) : -1;
}

void brk_acks_reset(struct brk *b, uint16_t ch)
{
	if (ch < b->n_acks)
		acks_reset(&b->acks[ch]);
}

void brk_acks_free(struct brk *b)
{
	for (size_t i = 0; i < b->n_acks; i++)
		acks_free(&b->acks[i]);
	free(b->acks);
	b->acks = NULL;
	b->n_acks = 0;
}

int brk_ack(struct brk *b, uint16_t ch, uint64_t tag)
{
	if (ch >= b->n_acks || acks_decide(&b->acks[ch], tag) != 0)
		return BRK_ERR_CHANNEL;
	return 0;
}

struct send_ctx {
	struct brk *b;
	uint16_t ch;
};

static int send_ack(void *arg, uint64_t tag, bool multiple)
{
	struct send_ctx *c = arg;

	return amqp_basic_ack(c->b->conn, c->ch, tag, multiple) == AMQP_STATUS_OK ? 0 : -1;
}

int brk_flush_acks_on(struct brk *b, uint16_t ch)
{
	struct send_ctx c = {.b = b, .ch = ch};

	if (ch >= b->n_acks || !acks_pending(&b->acks[ch]))
		return 0;
	if (b->broken || acks_flush(&b->acks[ch], send_ack, &c) != 0) {
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

int brk_flush_acks(struct brk *b)
{
	for (size_t ch = 0; ch < b->n_acks; ch++) {
		if (brk_flush_acks_on(b, (uint16_t)ch) != 0)
			return BRK_ERR_CONNECTION;
	}
	return 0;
}
