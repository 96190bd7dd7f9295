/* Unit tests for policy.c: the whole decision table, Retry-After, reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hsbridge/policy.h"

#define MIN_MS (60L * 1000)

/* The default retry_delays ["1m","5m","30m","1h"]. */
static const long default_delays[] = {1 * MIN_MS, 5 * MIN_MS, 30 * MIN_MS, 60 * MIN_MS};
#define N_DEFAULT (sizeof(default_delays) / sizeof(default_delays[0]))

static const long one_delay[] = {5 * MIN_MS};

enum outcome { ACK, GONE, FAIL };

struct status_case {
	int status;
	enum outcome outcome;
};

/* Every status class, with the outcome written out rather than derived. */
static const struct status_case statuses[] = {
    {200, ACK},	 {201, ACK},  {204, ACK},  {299, ACK},	{300, FAIL}, {301, FAIL},
    {302, FAIL}, {304, FAIL}, {400, FAIL}, {401, FAIL}, {404, FAIL}, {408, FAIL},
    {409, FAIL}, {410, GONE}, {429, FAIL}, {499, FAIL}, {500, FAIL}, {502, FAIL},
    {503, FAIL}, {504, FAIL}, {0, FAIL},   {100, FAIL}, {199, FAIL}, {600, FAIL},
};

struct step {
	enum pol_action action;
	size_t delay_index;
	enum pol_reason reason;
};

static void check(struct pol_decision d, struct step want, int status, unsigned attempt)
{
	if (d.action != want.action || d.reason != want.reason ||
	    (want.action == POL_RETRY && d.delay_index != want.delay_index))
		fail_msg("status %d attempt %u: got action %d index %zu reason %d, want %d %zu %d",
			 status, attempt, d.action, d.delay_index, d.reason, want.action,
			 want.delay_index, want.reason);
}

/* failure_steps[a - 1] is the decision for a failed attempt a. */
static void run_table(const long *delays, size_t n, const struct step *failure_steps)
{
	static const struct step ack = {POL_ACK, 0, POL_REASON_NONE};
	static const struct step gone = {POL_PARK, 0, POL_REASON_GONE};

	for (size_t s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
		for (unsigned attempt = 1; attempt <= n + 2; attempt++) {
			struct pol_decision d =
			    pol_decide(statuses[s].status, -1, attempt, delays, n);
			const struct step *want = statuses[s].outcome == ACK ? &ack
						  : statuses[s].outcome == GONE
						      ? &gone
						      : &failure_steps[attempt - 1];

			check(d, *want, statuses[s].status, attempt);
		}
	}
}

static void decision_table_default_schedule(void **state)
{
	static const struct step steps[] = {
	    {POL_RETRY, 0, POL_REASON_NONE},
	    {POL_RETRY, 1, POL_REASON_NONE},
	    {POL_RETRY, 2, POL_REASON_NONE},
	    {POL_RETRY, 3, POL_REASON_NONE},
	    {POL_PARK, 0, POL_REASON_RETRIES_EXHAUSTED},
	    {POL_PARK, 0, POL_REASON_RETRIES_EXHAUSTED},
	};

	(void)state;
	run_table(default_delays, N_DEFAULT, steps);
}

static void decision_table_single_delay(void **state)
{
	static const struct step steps[] = {
	    {POL_RETRY, 0, POL_REASON_NONE},
	    {POL_PARK, 0, POL_REASON_RETRIES_EXHAUSTED},
	    {POL_PARK, 0, POL_REASON_RETRIES_EXHAUSTED},
	};

	(void)state;
	run_table(one_delay, 1, steps);
}

static void default_schedule_gives_five_attempts_then_park(void **state)
{
	unsigned attempts = 0;
	long waited = 0;
	struct pol_decision d;

	(void)state;
	for (unsigned attempt = 1;; attempt++) {
		attempts++;
		d = pol_decide(503, -1, attempt, default_delays, N_DEFAULT);
		if (d.action != POL_RETRY)
			break;
		waited += default_delays[d.delay_index];
	}
	assert_int_equal(attempts, 5);
	assert_int_equal(d.action, POL_PARK);
	assert_int_equal(d.reason, POL_REASON_RETRIES_EXHAUSTED);
	/* 1m + 5m + 30m + 1h between the first and the last attempt. */
	assert_int_equal(waited, 96 * MIN_MS);
}

static void attempt_zero_counts_as_first(void **state)
{
	struct pol_decision d = pol_decide(500, -1, 0, default_delays, N_DEFAULT);

	(void)state;
	assert_int_equal(d.action, POL_RETRY);
	assert_int_equal(d.delay_index, 0);
	d = pol_decide(500, -1, 0, one_delay, 1);
	assert_int_equal(d.action, POL_RETRY);
	assert_int_equal(d.delay_index, 0);
}

static void success_and_gone_ignore_attempt_count(void **state)
{
	struct pol_decision d;

	(void)state;
	d = pol_decide(200, -1, 99, default_delays, N_DEFAULT);
	assert_int_equal(d.action, POL_ACK);
	assert_int_equal(d.reason, POL_REASON_NONE);
	d = pol_decide(410, 1000, 1, default_delays, N_DEFAULT);
	assert_int_equal(d.action, POL_PARK);
	assert_int_equal(d.reason, POL_REASON_GONE);
	d = pol_decide(410, -1, 99, default_delays, N_DEFAULT);
	assert_int_equal(d.action, POL_PARK);
	assert_int_equal(d.reason, POL_REASON_GONE);
}

struct ra_case {
	int status;
	long retry_after_ms;
	unsigned attempt;
	size_t want_index;
};

static void run_ra(const long *delays, size_t n, const struct ra_case *cases, size_t n_cases)
{
	for (size_t i = 0; i < n_cases; i++) {
		struct pol_decision d = pol_decide(cases[i].status, cases[i].retry_after_ms,
						   cases[i].attempt, delays, n);
		struct step want = {POL_RETRY, cases[i].want_index, POL_REASON_NONE};

		check(d, want, cases[i].status, cases[i].attempt);
	}
}

static void retry_after_picks_next_tier(void **state)
{
	static const struct ra_case cases[] = {
	    /* below the smallest */
	    {429, 0, 1, 0},
	    {429, 1000, 3, 0},
	    {503, 59999, 4, 0},
	    /* equal to a delay */
	    {429, 1 * MIN_MS, 2, 0},
	    {503, 5 * MIN_MS, 1, 1},
	    {429, 60 * MIN_MS, 1, 3},
	    /* between two delays */
	    {429, 1 * MIN_MS + 1, 1, 1},
	    {503, 10 * MIN_MS, 1, 2},
	    {429, 45 * MIN_MS, 2, 3},
	    /* above the largest */
	    {429, 60 * MIN_MS + 1, 1, 3},
	    {503, 24 * 60 * MIN_MS, 2, 3},
	    /* no Retry-After: the schedule */
	    {429, -1, 3, 2},
	    {503, -1, 2, 1},
	};

	(void)state;
	run_ra(default_delays, N_DEFAULT, cases, sizeof(cases) / sizeof(cases[0]));
}

static void retry_after_ignored_for_other_statuses(void **state)
{
	static const struct ra_case cases[] = {
	    {500, 60 * MIN_MS, 1, 0}, {500, 0, 3, 2},	      {502, 60 * MIN_MS, 2, 1},
	    {504, 60 * MIN_MS, 1, 0}, {0, 60 * MIN_MS, 1, 0}, {408, 60 * MIN_MS, 1, 0},
	    {400, 60 * MIN_MS, 4, 3},
	};

	(void)state;
	run_ra(default_delays, N_DEFAULT, cases, sizeof(cases) / sizeof(cases[0]));
}

static void retry_after_does_not_extend_retries(void **state)
{
	struct pol_decision d = pol_decide(429, 1000, 5, default_delays, N_DEFAULT);

	(void)state;
	assert_int_equal(d.action, POL_PARK);
	assert_int_equal(d.reason, POL_REASON_RETRIES_EXHAUSTED);
	d = pol_decide(503, 1000, 2, one_delay, 1);
	assert_int_equal(d.action, POL_PARK);
	assert_int_equal(d.reason, POL_REASON_RETRIES_EXHAUSTED);
}

static void retry_after_searches_unsorted_delays_by_value(void **state)
{
	static const long unsorted[] = {5 * MIN_MS, 1 * MIN_MS, 60 * MIN_MS, 30 * MIN_MS};
	static const struct ra_case cases[] = {
	    {429, 1000, 1, 1},		  /* 1m, the smallest */
	    {429, 2 * MIN_MS, 1, 0},	  /* 5m */
	    {503, 5 * MIN_MS, 3, 0},	  /* equal to 5m */
	    {429, 31 * MIN_MS, 1, 2},	  /* 1h */
	    {503, 30 * MIN_MS, 1, 3},	  /* equal to 30m */
	    {429, 2 * 60 * MIN_MS, 1, 2}, /* above all: the largest, 1h */
	    {429, -1, 2, 1},		  /* no Retry-After: position, not value */
	};

	(void)state;
	run_ra(unsorted, 4, cases, sizeof(cases) / sizeof(cases[0]));
}

static void retry_after_with_repeated_delays_takes_first(void **state)
{
	static const long repeated[] = {2 * MIN_MS, 1 * MIN_MS, 1 * MIN_MS, 2 * MIN_MS};
	static const struct ra_case cases[] = {
	    {429, 0, 1, 1},
	    {429, 90 * 1000, 1, 0},
	    {429, 10 * MIN_MS, 1, 0},
	};

	(void)state;
	run_ra(repeated, 4, cases, sizeof(cases) / sizeof(cases[0]));
}

static void retry_after_with_single_delay(void **state)
{
	static const struct ra_case cases[] = {
	    {429, 0, 1, 0},
	    {503, 60 * MIN_MS, 1, 0},
	};

	(void)state;
	run_ra(one_delay, 1, cases, sizeof(cases) / sizeof(cases[0]));
}

static void reason_names(void **state)
{
	(void)state;
	assert_null(pol_reason_name(POL_REASON_NONE));
	assert_string_equal(pol_reason_name(POL_REASON_RETRIES_EXHAUSTED), "retries_exhausted");
	assert_string_equal(pol_reason_name(POL_REASON_GONE), "gone");
	assert_string_equal(pol_reason_name(POL_REASON_INVALID_PAYLOAD), "invalid_payload");
	assert_string_equal(pol_reason_name(POL_REASON_PAYLOAD_TOO_LARGE), "payload_too_large");
	assert_string_equal(pol_reason_name(POL_REASON_DELIVERY_LIMIT), "delivery_limit");
	assert_string_equal(pol_reason_name(POL_REASON_ADDRESS_NOT_ALLOWED), "address_not_allowed");
}

/* A 429 that does not say how long to wait: the breaker's business, not
 * the event's. Retry-After 0 is a value; a 503 is an endpoint failure. */
static void throttled_is_429_without_retry_after(void **state)
{
	(void)state;
	assert_true(pol_throttled(429, -1));
	assert_false(pol_throttled(429, 0));
	assert_false(pol_throttled(429, 30000));
	assert_false(pol_throttled(503, -1));
	assert_false(pol_throttled(428, -1));
	assert_false(pol_throttled(430, -1));
	assert_false(pol_throttled(0, -1));
	assert_false(pol_throttled(200, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decision_table_default_schedule),
	    cmocka_unit_test(decision_table_single_delay),
	    cmocka_unit_test(default_schedule_gives_five_attempts_then_park),
	    cmocka_unit_test(attempt_zero_counts_as_first),
	    cmocka_unit_test(success_and_gone_ignore_attempt_count),
	    cmocka_unit_test(retry_after_picks_next_tier),
	    cmocka_unit_test(retry_after_ignored_for_other_statuses),
	    cmocka_unit_test(retry_after_does_not_extend_retries),
	    cmocka_unit_test(retry_after_searches_unsorted_delays_by_value),
	    cmocka_unit_test(retry_after_with_repeated_delays_takes_first),
	    cmocka_unit_test(retry_after_with_single_delay),
	    cmocka_unit_test(reason_names),
	    cmocka_unit_test(throttled_is_429_without_retry_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
