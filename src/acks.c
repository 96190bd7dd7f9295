/* acks: the ledger of one channel's unacked deliveries (acks.h). */
#include "hsbridge/acks.h"

#include <stdlib.h>
#include <string.h>

#define ACKS_MIN_CAP 16

void acks_init(struct acks *a)
{
	memset(a, 0, sizeof(*a));
}

void acks_free(struct acks *a)
{
	free(a->e);
	acks_init(a);
}

void acks_reset(struct acks *a)
{
	a->len = 0;
	a->n_decided = 0;
}

int acks_received(struct acks *a, uint64_t tag)
{
	if (a->len && tag <= a->e[a->len - 1].tag)
		acks_reset(a);
	if (a->len == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : ACKS_MIN_CAP;
		struct acks_entry *e = realloc(a->e, cap * sizeof(*e));

		if (!e)
			return -1;
		a->e = e;
		a->cap = cap;
	}
	a->e[a->len].tag = tag;
	a->e[a->len].decided = false;
	a->len++;
	return 0;
}

int acks_decide(struct acks *a, uint64_t tag)
{
	size_t lo = 0, hi = a->len;

	/* Tags are increasing: a binary search. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->e[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == a->len || a->e[lo].tag != tag || a->e[lo].decided)
		return -1;
	a->e[lo].decided = true;
	a->n_decided++;
	return 0;
}

bool acks_pending(const struct acks *a)
{
	return a->n_decided > 0;
}

int acks_flush(struct acks *a, int (*send)(void *arg, uint64_t tag, bool multiple), void *arg)
{
	size_t run = 0;
	size_t keep = 0;
	int rc = 0;

	if (a->n_decided == 0)
		return 0;
	while (run < a->len && a->e[run].decided)
		run++;
	/* Every tag the broker still holds up to e[run - 1] is decided. */
	if (run > 0)
		rc = send(arg, a->e[run - 1].tag, run > 1);
	/* Beyond the first undecided tag, one by one; the undecided stay. */
	for (size_t i = run; rc == 0 && i < a->len; i++) {
		if (a->e[i].decided)
			rc = send(arg, a->e[i].tag, false);
		else
			a->e[keep++] = a->e[i];
	}
	if (rc != 0) {
		acks_reset(a);
		return rc;
	}
	a->len = keep;
	a->n_decided = 0;
	return 0;
}
