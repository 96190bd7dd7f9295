/* delivery: states, lists and the transitions between them. */
#include "hsbridge/delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[DLV_N_STATES] = {
    "received", "posting", "held", "confirming", "acked", "handed_back",
};

/* allowed[from] is the set of states a delivery may go to from there. */
#define BIT(s) (1u << (s))
static const unsigned allowed[DLV_N_STATES] = {
    [DLV_RECEIVED] = BIT(DLV_POSTING) | BIT(DLV_HELD) | BIT(DLV_CONFIRMING) | BIT(DLV_HANDED_BACK),
    [DLV_POSTING] = BIT(DLV_ACKED) | BIT(DLV_HELD) | BIT(DLV_CONFIRMING) | BIT(DLV_HANDED_BACK),
    [DLV_HELD] = BIT(DLV_CONFIRMING) | BIT(DLV_HANDED_BACK),
    [DLV_CONFIRMING] = BIT(DLV_ACKED) | BIT(DLV_HELD) | BIT(DLV_HANDED_BACK),
    [DLV_ACKED] = 0,
    [DLV_HANDED_BACK] = 0,
};

static bool is_final(enum dlv_state s)
{
	return s == DLV_ACKED || s == DLV_HANDED_BACK;
}

bool dlv_transition_allowed(enum dlv_state from, enum dlv_state to)
{
	if ((unsigned)from >= DLV_N_STATES || (unsigned)to >= DLV_N_STATES)
		return false;
	return (allowed[from] & BIT(to)) != 0;
}

const char *dlv_state_name(enum dlv_state s)
{
	return (unsigned)s < DLV_N_STATES ? state_names[s] : "invalid";
}

void dlv_set_init(struct dlv_set *set)
{
	memset(set, 0, sizeof(*set));
}

static void unlink_from(struct dlv_set *set, struct delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		set->head[d->state] = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
	set->count[d->state]--;
}

static void link_into(struct dlv_set *set, struct delivery *d, enum dlv_state s)
{
	d->state = s;
	d->prev = NULL;
	d->next = set->head[s];
	if (d->next)
		d->next->prev = d;
	set->head[s] = d;
	set->count[s]++;
}

struct delivery *dlv_receive(struct dlv_set *set, struct dlv_sub *sub, uint16_t channel,
			     uint64_t tag, amqp_message_t *msg, char **routing_key)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->sub = sub;
	d->channel = channel;
	d->tag = tag;
	d->msg = *msg;
	d->routing_key = *routing_key;
	memset(msg, 0, sizeof(*msg));
	*routing_key = NULL;
	link_into(set, d, DLV_RECEIVED);
	return d;
}

void dlv_move(struct dlv_set *set, struct delivery *d, enum dlv_state to)
{
	if (!dlv_transition_allowed(d->state, to)) {
		fprintf(stderr, "hsbridge: bug: delivery moved from %s to %s\n",
			dlv_state_name(d->state), dlv_state_name(to));
		abort();
	}
	unlink_from(set, d);
	link_into(set, d, to);
}

size_t dlv_alive(const struct dlv_set *set)
{
	size_t n = 0;

	for (int s = 0; s < DLV_N_STATES; s++) {
		if (!is_final((enum dlv_state)s))
			n += set->count[s];
	}
	return n;
}

void dlv_hand_back_all(struct dlv_set *set)
{
	/* A transfer still reads a POSTING delivery's body: only its
	 * cancellation may hand it back. */
	if (set->head[DLV_POSTING]) {
		fprintf(stderr, "hsbridge: bug: handing back %zu deliveries still posting\n",
			set->count[DLV_POSTING]);
		abort();
	}
	for (int s = 0; s < DLV_N_STATES; s++) {
		if (is_final((enum dlv_state)s))
			continue;
		while (set->head[s])
			dlv_move(set, set->head[s], DLV_HANDED_BACK);
	}
}

static void delivery_free(struct delivery *d)
{
	amqp_destroy_message(&d->msg);
	free(d->routing_key);
	ev_free(&d->ev);
	free(d);
}

void dlv_reap(struct dlv_set *set)
{
	static const enum dlv_state finals[] = {DLV_ACKED, DLV_HANDED_BACK};

	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		while (set->head[finals[i]]) {
			struct delivery *d = set->head[finals[i]];

			unlink_from(set, d);
			delivery_free(d);
		}
	}
}

struct delivery *dlv_find_confirming(const struct dlv_set *set, uint64_t seq)
{
	for (struct delivery *d = set->head[DLV_CONFIRMING]; d; d = d->next) {
		if (d->copy.seq == seq)
			return d;
	}
	return NULL;
}
