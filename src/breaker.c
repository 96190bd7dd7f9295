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

long breaker_jitter_ms(long cooldown_ms, double u)
{
	if (!(u > 0.0))
		u = 0.0; /* also NaN */
	if (u > 1.0)
		u = 1.0;
	return cooldown_ms - (long)((double)cooldown_ms * 0.2 * u);
}

/* -> OPEN with cooldown_ms, ending at now_ms + its jittered length. */
static void trip(struct breaker *b, long cooldown_ms, long long now_ms, double u)
{
	b->state = BREAKER_OPEN;
	b->cooldown_ms = cooldown_ms;
	b->probe_at_ms = now_ms + breaker_jitter_ms(cooldown_ms, u);
	b->probing = false;
}

/* The cool-down after a failed probe: twice the last, at most the max
 * (also when the last one was longer: a reload lowered the max). */
static long next_cooldown(const struct breaker *b, const struct breaker_conf *c)
{
	long last = b->cooldown_ms > 0 ? b->cooldown_ms : c->cooldown_ms;

	if (last >= c->max_cooldown_ms / 2)
		return c->max_cooldown_ms;
	return last * 2;
}

static enum breaker_change answer_closed(struct breaker *b, const struct breaker_conf *c,
					 enum breaker_verdict v, long long now_ms, double u)
{
	switch (v) {
	case BREAKER_UP:
		b->failures = 0;
		break;
	case BREAKER_DOWN:
		if (++b->failures < c->failures)
			break;
		trip(b, c->cooldown_ms, now_ms, u);
		return BREAKER_OPENED;
	case BREAKER_GONE:
		b->failures++;
		trip(b, c->cooldown_ms, now_ms, u);
		return BREAKER_OPENED;
	case BREAKER_EVENT:
		break;
	}
	return BREAKER_SAME;
}

static enum breaker_change answer_probe(struct breaker *b, const struct breaker_conf *c,
					enum breaker_verdict v, long long now_ms, double u)
{
	switch (v) {
	case BREAKER_UP:
		breaker_init(b);
		b->ups = 1;
		b->up = b->ups >= BREAKER_UP_STREAK;
		return BREAKER_CLOSED_AGAIN;
	case BREAKER_DOWN:
	case BREAKER_GONE:
		b->failures++;
		trip(b, next_cooldown(b, c), now_ms, u);
		return BREAKER_OPENED;
	case BREAKER_EVENT:
		/* Undecided: the next message probes. */
		b->probing = false;
		break;
	}
	return BREAKER_SAME;
}

enum breaker_change breaker_answer(struct breaker *b, const struct breaker_conf *c,
				   enum breaker_verdict v, bool probe, long long now_ms, double u)
{
	if (!c->enabled) {
		breaker_init(b);
		return BREAKER_SAME;
	}
	if (b->state == BREAKER_CLOSED || (b->state == BREAKER_HALF_OPEN && probe && b->probing)) {
		/* An answer about the endpoint (an event's 4xx is not one). */
		if (v != BREAKER_EVENT) {
			b->ups = v == BREAKER_UP ? b->ups + 1 : 0;
			b->up = b->ups >= BREAKER_UP_STREAK;
		}
		if (b->state == BREAKER_CLOSED)
			return answer_closed(b, c, v, now_ms, u);
		return answer_probe(b, c, v, now_ms, u);
	}
	/* OPEN, or not the probe: a delivery that was in flight when the
	 * breaker opened says nothing the breaker does not know. */
	return BREAKER_SAME;
}

bool breaker_spares(const struct breaker_conf *c, enum breaker_verdict v, bool up_before,
		    const struct breaker *after, bool last)
{
	if (!c->enabled || v != BREAKER_DOWN)
		return false;
	if (after->state != BREAKER_CLOSED)
		return true;
	return last && !up_before;
}

void breaker_reconf(struct breaker *b, const struct breaker_conf *c, long long now_ms)
{
	if (b->state == BREAKER_CLOSED)
		return;
	if (b->cooldown_ms > c->max_cooldown_ms)
		b->cooldown_ms = c->max_cooldown_ms;
	if (b->state == BREAKER_OPEN && b->probe_at_ms > now_ms + b->cooldown_ms)
		b->probe_at_ms = now_ms + b->cooldown_ms;
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
