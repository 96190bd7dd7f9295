/* delivery: the life of one message taken from a subscription queue, as an
 * explicit state machine (the way pgbouncer's SocketState lists and curl's
 * CURLMstate work). A delivery is on exactly one list, that of its state,
 * and only dlv_move changes either. No I/O here: the bridge does what a
 * state asks for and then moves the delivery on.
 *
 *   RECEIVED    -> POSTING      the envelope is valid: POST it
 *               -> CONFIRMING   invalid: its parked copy is published
 *               -> HELD         invalid, and the broker is blocked
 *   POSTING     -> ACKED        2xx: the original is acked
 *               -> CONFIRMING   a failure: its retry or parked copy is published
 *               -> HELD         a failure, and the broker is blocked
 *   CONFIRMING  -> ACKED        the broker confirmed the copy: the original is acked
 *               -> HELD         the broker refused the copy (nack, return): back off
 *   HELD        -> CONFIRMING   due and unblocked: the copy is published again
 *   any of them -> HANDED_BACK  the session ended with the original unacked: the
 *                               broker delivers it again
 *
 * ACKED and HANDED_BACK are final: dlv_reap frees those, and only dlv_reap
 * frees, so no function frees a delivery its caller still holds. */
#ifndef HSBRIDGE_DELIVERY_H
#define HSBRIDGE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <curl/curl.h>

#include "hsbridge/event.h"

enum dlv_state {
	DLV_RECEIVED, /* taken from the queue: its envelope not yet checked, or
			 checked and waiting for a max_per_second token */
	DLV_POSTING,  /* the webhook request is in flight */
	DLV_HELD,     /* a copy waits to be published: backoff after a refusal, or a broker alarm */
	DLV_CONFIRMING,	 /* the copy is published; the original is acked on the broker's confirm */
	DLV_ACKED,	 /* final: the original is acked */
	DLV_HANDED_BACK, /* final: left unacked for the broker to deliver again */
	DLV_N_STATES,
};

/* Where a retried or parked copy goes and what it says (DESIGN section 4).
 * Kept with the delivery so that a refused copy is published again as it was. */
struct dlv_copy {
	char exchange[256];
	char routing_key[256];
	unsigned attempts;
	int last_status;
	char last_error[CURL_ERROR_SIZE + 32];
	const char *reason; /* parked only; a static string */
	char first_failure_at[64]; /* "" until the first failure (or a trusted copy's) */
	bool drop_headers;	   /* the original's headers do not fit in a frame with ours */
	bool spared;	   /* the attempt was not counted (breaker_spares): sealed even at 0 */
	unsigned refusals;  /* times the broker refused it */
	long long due_ms;   /* HELD: when to publish it (again) */
	uint64_t seq;	    /* CONFIRMING: its publish sequence number */
	bool returned;	    /* CONFIRMING: the broker found no queue for it */
};

struct dlv_sub; /* the bridge's runtime subscription; borrowed */

struct delivery {
	enum dlv_state state; /* read freely, changed by dlv_move only */
	struct delivery *prev, *next;
	struct dlv_sub *sub;
	uint16_t channel; /* the subscription's channel when it was delivered */
	uint64_t tag;
	amqp_message_t msg; /* owned */
	char *routing_key;  /* owned */
	struct ev_event ev; /* owned: the prepared envelope; ev.body set once valid.
			       While POSTING, the transfer reads ev.body without a copy. */
	unsigned attempt;
	bool probe; /* its answer decides a half-open circuit breaker */
	char id[37];
	struct dlv_copy copy;
};

struct dlv_set {
	struct delivery *head[DLV_N_STATES];
	size_t count[DLV_N_STATES];
};

/* Whether the state machine allows from -> to (the diagram above). */
bool dlv_transition_allowed(enum dlv_state from, enum dlv_state to);

/* "received", "posting", ... for logs and tests. */
const char *dlv_state_name(enum dlv_state s);

void dlv_set_init(struct dlv_set *set);

/* A new delivery in RECEIVED that takes over msg and routing_key (both are
 * then cleared in the caller's hands). NULL when out of memory (the caller
 * still owns both). */
struct delivery *dlv_receive(struct dlv_set *set, struct dlv_sub *sub, uint16_t channel,
			     uint64_t tag, amqp_message_t *msg, char **routing_key);

/* The one place a delivery changes state and list. An illegal transition is a
 * bug: it aborts. d stays allocated (final states too) until dlv_reap. */
void dlv_move(struct dlv_set *set, struct delivery *d, enum dlv_state to);

/* Deliveries not yet in a final state. */
size_t dlv_alive(const struct dlv_set *set);

/* Every delivery that is not final -> HANDED_BACK (the session is gone).
 * POSTING ones must have been handed back first, by cancelling their
 * transfers (disp_cancel_all): a transfer reads the delivery's body, so
 * finding one still POSTING here is a bug and aborts. */
void dlv_hand_back_all(struct dlv_set *set);

/* Frees every delivery in a final state. Call it where no one holds one: at
 * the end of a loop turn, and when a session is dropped. */
void dlv_reap(struct dlv_set *set);

/* The CONFIRMING delivery whose copy has sequence number seq, or NULL. */
struct delivery *dlv_find_confirming(const struct dlv_set *set, uint64_t seq);

#endif
