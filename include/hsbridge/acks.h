/* acks: which basic.ack frames settle the decided deliveries of one
 * channel, with as few frames as the broker allows. Pure bookkeeping, no
 * I/O: the broker module records what arrives and what is decided, and
 * sends what acks_flush hands it.
 *
 * The ledger mirrors the broker's own list of the channel's unacked
 * deliveries: every tag delivered on the channel since it opened (or since
 * the last acks_reset), in delivery order, less those already sent. A
 * basic.ack with multiple set to tag T settles every unacked tag up to T
 * (AMQP 0-9-1 basic.ack), so acks_flush sends one only when every tag the
 * ledger holds up to T is decided: a delivery that is not decided (in
 * flight, held, handed back for redelivery, or one the caller never took
 * in) is never covered. Decided tags beyond the first undecided one are
 * sent one by one in the same flush, so that a delivery that stays
 * undecided for long (a slow endpoint, a copy held by an alarm) never
 * holds back the acks of the others, nor the prefetch window. */
#ifndef HSBRIDGE_ACKS_H
#define HSBRIDGE_ACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acks_entry {
	uint64_t tag;
	bool decided; /* it may be acked */
};

/* One channel's ledger. Zeroed (or acks_init) is empty. */
struct acks {
	struct acks_entry *e; /* delivered, not yet sent; tags increasing */
	size_t len, cap;
	size_t n_decided; /* entries with decided set */
};

void acks_init(struct acks *a);
/* Frees the ledger; a is empty again. */
void acks_free(struct acks *a);
/* The channel was opened again (or closed): its tags start over, and
 * nothing recorded before may be sent on it. Keeps the memory. */
void acks_reset(struct acks *a);

/* Tag was delivered on the channel. Tags only grow on a channel: a tag not
 * above the last one recorded means the channel started over unseen, and
 * the ledger is reset first. Returns 0, or -1 when out of memory: the tag
 * is then unknown to the ledger, and a multiple ack could cover it, so the
 * caller must give the channel up (the broker redelivers). */
int acks_received(struct acks *a, uint64_t tag) __attribute__((warn_unused_result));

/* Tag's delivery is decided: it may be acked. Returns 0, or -1 when the
 * ledger does not hold tag undecided (never delivered on this channel since
 * its last reset, or already decided): nothing is recorded then. */
int acks_decide(struct acks *a, uint64_t tag) __attribute__((warn_unused_result));

/* Whether a flush would send anything. */
bool acks_pending(const struct acks *a);

/* Calls send(arg, tag, multiple) for each basic.ack that settles the
 * decided tags, in the order they must go out, and forgets them: first
 * the decided run at the front (multiple set when it holds more than one
 * tag), then each decided tag beyond the first undecided one. Stops at the
 * first send that returns nonzero and returns that value, with the ledger
 * reset (nothing more can go out on a channel whose frames are lost); 0
 * when all went out. */
int acks_flush(struct acks *a, int (*send)(void *arg, uint64_t tag, bool multiple), void *arg);

#endif
