/* breaker: a subscription's circuit breaker (issue 7, DESIGN section 9) as a
 * pure state machine: answers and the time go in, a state comes out. No I/O
 * and no clock here; the bridge cancels and starts consumers accordingly.
 *
 *   CLOSED     -> OPEN        `failures` endpoint failures in a row, or one 410
 *   OPEN       -> HALF_OPEN   the cool-down is over (breaker_half_open)
 *   HALF_OPEN  -> CLOSED      the probe's answer is a 2xx
 *              -> OPEN        the probe failed (or got a 410): the next,
 *                             doubled cool-down, at most max_cooldown
 *
 * What counts: an endpoint failure is no answer at all (connection error,
 * timeout), a 5xx, 429, 408, and anything else that is neither 2xx nor 4xx
 * (1xx, a 3xx: redirects are not followed, so every event gets the same).
 * Any other 4xx is about the event, not the endpoint: it neither counts nor
 * resets the count (a 2xx resets it), and a probe that gets one leaves the
 * breaker half-open: the next message is the probe. While OPEN, answers of
 * deliveries that were in flight when it opened change nothing; while
 * HALF_OPEN only the probe's answer does. */
#ifndef HSBRIDGE_BREAKER_H
#define HSBRIDGE_BREAKER_H

#include <stdbool.h>

enum breaker_state {
	BREAKER_CLOSED,	   /* normal delivery */
	BREAKER_OPEN,	   /* no consumer until the cool-down is over */
	BREAKER_HALF_OPEN, /* one message at a time, as a probe */
};

/* The config group `breaker` (global, or a subscription's, resolved). */
struct breaker_conf {
	bool enabled;	      /* false: the breaker never leaves CLOSED */
	int failures;	      /* >= 1 */
	long cooldown_ms;     /* the first cool-down, > 0 */
	long max_cooldown_ms; /* >= cooldown_ms */
};

/* What one answer says about the endpoint. */
enum breaker_verdict {
	BREAKER_UP,    /* 2xx */
	BREAKER_DOWN,  /* no answer, 5xx, 429, 408, 1xx, 3xx */
	BREAKER_GONE,  /* 410: "stop sending" */
	BREAKER_EVENT, /* any other 4xx: about the event, not the endpoint */
};

/* What an answer did to the breaker, for the log. */
enum breaker_change {
	BREAKER_SAME,
	BREAKER_OPENED, /* from CLOSED or HALF_OPEN */
	BREAKER_CLOSED_AGAIN,
};

/* 2xx answers in a row that show an endpoint is up (breaker.up). */
#define BREAKER_UP_STREAK 2

struct breaker {
	enum breaker_state state;
	int failures;	       /* CLOSED: endpoint failures in a row */
	long cooldown_ms;      /* OPEN/HALF_OPEN: the current cool-down; 0 while CLOSED */
	long long probe_at_ms; /* OPEN: when the cool-down ends */
	bool probing;	       /* HALF_OPEN: the probe is in flight */
	int ups; /* 2xx answers in a row since the last endpoint failure or 410 */
	bool up; /* ups >= BREAKER_UP_STREAK: the endpoint has shown it is up (one
		    2xx is not enough: a probe's, or one between two failures, may
		    be a flap); false in a new breaker */
};

void breaker_init(struct breaker *b);

/* The verdict on an HTTP status (0: no answer at all). */
enum breaker_verdict breaker_verdict_of(int status);

/* Records one answer at now_ms. probe: it is the answer to the probe
 * (breaker_take_probe). u: a random value in [0, 1] for the jitter of a
 * cool-down it starts (breaker_jitter_ms; 0: none). */
enum breaker_change breaker_answer(struct breaker *b, const struct breaker_conf *c,
				   enum breaker_verdict v, bool probe, long long now_ms, double u);

/* How long a cool-down of cooldown_ms really waits: cooldown_ms times a
 * factor in [0.8, 1.0], 1.0 - 0.2 * u for u in [0, 1] (clamped), so that
 * bridges that tripped together do not probe in lockstep. */
long breaker_jitter_ms(long cooldown_ms, double u);

/* Whether an attempt whose answer had verdict v is spared: it does not
 * count against its event's retry schedule, because the endpoint has not
 * shown that it is up. up_before: b->up before the answer was recorded;
 * after: the breaker once it was (breaker_answer); last: the attempt was
 * the event's last one (a failure would park it as retries_exhausted).
 * Only an endpoint failure (BREAKER_DOWN) with the breaker enabled is ever
 * spared, and then when
 *   - the breaker is not closed after it (the failure that opened it, a
 *     delivery that was in flight finishing while open, a failed probe), or
 *   - it was the event's last attempt and the endpoint had not shown it is
 *     up before it (up: BREAKER_UP_STREAK 2xx in a row since the last
 *     failure; not since the start): nothing says the endpoint is up and
 *     refusing this event rather than down, or flapping. */
bool breaker_spares(const struct breaker_conf *c, enum breaker_verdict v, bool up_before,
		    const struct breaker *after, bool last);

/* A reload's new conf c for a breaker kept across it, at now_ms: a
 * cool-down over the new max_cooldown is cut to it, and an OPEN breaker
 * probes no later than now_ms + that cool-down. */
void breaker_reconf(struct breaker *b, const struct breaker_conf *c, long long now_ms);

/* OPEN and its cool-down is over at now_ms. */
bool breaker_due(const struct breaker *b, long long now_ms);
/* OPEN -> HALF_OPEN (anything else: no change). */
void breaker_half_open(struct breaker *b);
/* HALF_OPEN with no probe in flight: the delivery about to be POSTed
 * becomes the probe (true). Otherwise false. */
bool breaker_take_probe(struct breaker *b);
/* The probe ended without an answer (the session was lost): the next
 * message will be the probe. */
void breaker_probe_lost(struct breaker *b);

/* Milliseconds until the cool-down ends (0 when due), or -1 when not OPEN. */
long long breaker_wait_ms(const struct breaker *b, long long now_ms);
/* The prefetch a consumer should have: 0 (OPEN: none), 1 (HALF_OPEN: one
 * probe), or full (CLOSED). */
int breaker_prefetch(const struct breaker *b, int full);

/* "closed", "open", "half_open". */
const char *breaker_state_name(enum breaker_state s);

#endif
