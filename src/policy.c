/* policy: what to do after an attempt (DESIGN section 4). Plain data in, a
 * decision out, so the whole table is tested without a broker. */
#include "hsbridge/policy.h"

/* The delay to use when the endpoint asked for retry_after_ms: the smallest
 * configured delay that waits at least that long, else the longest we have.
 * The schedule need not be sorted, so search by value; ties go to the first. */
static size_t delay_for_retry_after(long retry_after_ms, const long *delays, size_t n_delays)
{
	size_t best = n_delays;
	size_t longest = 0;

	for (size_t i = 0; i < n_delays; i++) {
		if (delays[i] > delays[longest])
			longest = i;
		if (delays[i] >= retry_after_ms && (best == n_delays || delays[i] < delays[best]))
			best = i;
	}
	return best < n_delays ? best : longest;
}

struct pol_decision pol_decide(int status, long retry_after_ms, unsigned attempt,
			       const long *delays, size_t n_delays)
{
	struct pol_decision d = {.action = POL_ACK, .delay_index = 0, .reason = POL_REASON_NONE};

	if (status >= 200 && status <= 299)
		return d;
	if (status == 410) {
		d.action = POL_PARK;
		d.reason = POL_REASON_GONE;
		return d;
	}

	/* Everything else failed, including 1xx and 3xx (redirects are not
	 * followed) and 0 for no response at all. Attempt n is followed by
	 * delays[n - 1]; after the last delay's attempt there is nothing left. */
	if (attempt == 0)
		attempt = 1;
	if (delays == NULL || attempt > n_delays) {
		d.action = POL_PARK;
		d.reason = POL_REASON_RETRIES_EXHAUSTED;
		return d;
	}
	d.action = POL_RETRY;
	d.delay_index = attempt - 1;
	if ((status == 429 || status == 503) && retry_after_ms >= 0)
		d.delay_index = delay_for_retry_after(retry_after_ms, delays, n_delays);
	return d;
}

bool pol_throttled(int status, long retry_after_ms)
{
	return status == 429 && retry_after_ms < 0;
}

const char *pol_reason_name(enum pol_reason reason)
{
	switch (reason) {
	case POL_REASON_RETRIES_EXHAUSTED:
		return "retries_exhausted";
	case POL_REASON_GONE:
		return "gone";
	case POL_REASON_INVALID_PAYLOAD:
		return "invalid_payload";
	case POL_REASON_PAYLOAD_TOO_LARGE:
		return "payload_too_large";
	case POL_REASON_DELIVERY_LIMIT:
		return "delivery_limit";
	case POL_REASON_ADDRESS_NOT_ALLOWED:
		return "address_not_allowed";
	case POL_REASON_NONE:
		break;
	}
	return NULL;
}
