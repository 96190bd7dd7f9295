/* breaker: the circuit breaker's state machine (breaker.h). Pure. */
#include "hsbridge/breaker.h"

#include <string.h>

void breaker_init(struct breaker *b)
{
	memset(b, 0, sizeof(*b));
	b->state = BREAKER_CLOSED;
}

enum breaker_verdict breaker_verdict_of(int status)
{
	if (status >= 200 && status <= 299)
		return BREAKER_UP;
	if (status == 410)
		return BREAKER_GONE;
	if (status == 408 || status == 429)
		return BREAKER_DOWN;
	if (status >= 400 && status <= 499)
		return BREAKER_EVENT;
	return BREAKER_DOWN;
}

/* -> OPEN with cooldown_ms, ending at now_ms + cooldown_ms. */
static void trip(struct breaker *b, long cooldown_ms, long long now_ms)
{
	b->state = BREAKER_OPEN;
	b->cooldown_ms = cooldown_ms;
	b->probe_at_ms = now_ms + cooldown_ms;
	b->probing = false;
}

/* The cool-down after a failed probe: twice the last, at most the max. */
static long next_cooldown(const struct breaker *b, const struct breaker_conf *c)
{
	long last = b->cooldown_ms > 0 ? b->cooldown_ms : c->cooldown_ms;

	if (last >= c->max_cooldown_ms / 2)
		return c->max_cooldown_ms > last ? c->max_cooldown_ms : last;
	return last * 2;
}

static enum breaker_change answer_closed(struct breaker *b, const struct breaker_conf *c,
					 enum breaker_verdict v, long long now_ms)
{
	switch (v) {
	case BREAKER_UP:
		b->failures = 0;
		break;
	case BREAKER_DOWN:
		if (++b->failures < c->failures)
			break;
		trip(b, c->cooldown_ms, now_ms);
		return BREAKER_OPENED;
	case BREAKER_GONE:
		b->failures++;
		trip(b, c->cooldown_ms, now_ms);
		return BREAKER_OPENED;
	case BREAKER_EVENT:
		break;
	}
	return BREAKER_SAME;
}

static enum breaker_change answer_probe(struct breaker *b, const struct breaker_conf *c,
					enum breaker_verdict v, long long now_ms)
{
	switch (v) {
	case BREAKER_UP:
		breaker_init(b);
		return BREAKER_CLOSED_AGAIN;
	case BREAKER_DOWN:
	case BREAKER_GONE:
		b->failures++;
		trip(b, next_cooldown(b, c), now_ms);
		return BREAKER_OPENED;
	case BREAKER_EVENT:
		/* Undecided: the next message probes. */
		b->probing = false;
		break;
	}
	return BREAKER_SAME;
}

enum breaker_change breaker_answer(struct breaker *b, const struct breaker_conf *c,
				   enum breaker_verdict v, bool probe, long long now_ms)
{
	if (!c->enabled) {
		breaker_init(b);
		return BREAKER_SAME;
	}
	if (b->state == BREAKER_CLOSED)
		return answer_closed(b, c, v, now_ms);
	if (b->state == BREAKER_HALF_OPEN && probe && b->probing)
		return answer_probe(b, c, v, now_ms);
	/* OPEN, or not the probe: a delivery that was in flight when the
	 * breaker opened says nothing the breaker does not know. */
	return BREAKER_SAME;
}

bool breaker_due(const struct breaker *b, long long now_ms)
{
	return b->state == BREAKER_OPEN && now_ms >= b->probe_at_ms;
}

void breaker_half_open(struct breaker *b)
{
	if (b->state != BREAKER_OPEN)
		return;
	b->state = BREAKER_HALF_OPEN;
	b->probing = false;
}

bool breaker_take_probe(struct breaker *b)
{
	if (b->state != BREAKER_HALF_OPEN || b->probing)
		return false;
	b->probing = true;
	return true;
}

void breaker_probe_lost(struct breaker *b)
{
	if (b->state == BREAKER_HALF_OPEN)
		b->probing = false;
}

long long breaker_wait_ms(const struct breaker *b, long long now_ms)
{
	if (b->state != BREAKER_OPEN)
		return -1;
	return b->probe_at_ms > now_ms ? b->probe_at_ms - now_ms : 0;
}

int breaker_prefetch(const struct breaker *b, int full)
{
	switch (b->state) {
	case BREAKER_OPEN:
		return 0;
	case BREAKER_HALF_OPEN:
		return 1;
	case BREAKER_CLOSED:
		break;
	}
	return full;
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half_open";
	case BREAKER_CLOSED:
		break;
	}
	return "closed";
}
