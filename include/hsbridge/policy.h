/* policy: the decision core of DESIGN section 4. Pure: plain data in, a
 * decision out, no I/O. */
#ifndef HSBRIDGE_POLICY_H
#define HSBRIDGE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

enum pol_action {
	POL_ACK,   /* delivered (2xx): ack */
	POL_RETRY, /* publish to the retry exchange of delays[delay_index], then ack */
	POL_PARK,  /* publish to the parked queue with reason, then ack */
};

enum pol_reason {
	POL_REASON_NONE,
	POL_REASON_RETRIES_EXHAUSTED,
	POL_REASON_GONE,
	POL_REASON_INVALID_PAYLOAD,
	POL_REASON_PAYLOAD_TOO_LARGE,
	POL_REASON_DELIVERY_LIMIT,
	POL_REASON_ADDRESS_NOT_ALLOWED, /* the private-address guard refused it */
};

struct pol_decision {
	enum pol_action action;
	size_t delay_index;	/* POL_RETRY only */
	enum pol_reason reason; /* POL_PARK only */
};

/* status: the HTTP status, or 0 when there was no response (timeout,
 * connection error). retry_after_ms: the response's Retry-After, or -1.
 * attempt: 1 for the first attempt. delays: the configured schedule,
 * n_delays >= 1. Retry-After counts only with 429 and 503. */
struct pol_decision pol_decide(int status, long retry_after_ms, unsigned attempt,
			       const long *delays, size_t n_delays);

/* A 429 without (a usable) Retry-After: the endpoint throttles without
 * saying for how long. With the breaker on, such an attempt counts toward
 * the breaker but not against the event's schedule (bridge_breaker.c). */
bool pol_throttled(int status, long retry_after_ms);

/* "retries_exhausted", "gone", …; NULL for POL_REASON_NONE. */
const char *pol_reason_name(enum pol_reason reason);

#endif
