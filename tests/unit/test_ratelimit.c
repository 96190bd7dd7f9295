/* Unit tests for the token bucket (ratelimit.c): a full start, the burst,
 * refills to the millisecond (thousandths, no drift), the cap, waits rounded
 * up, a clock that goes back, long idle spans, no limit, clamping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hsbridge/ratelimit.h"

static int take_all(struct rl_bucket *b, long long now)
{
	int n = 0;

	while (rl_take(b, now))
		n++;
	return n;
}

static void starts_full_with_one_burst(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 20, 20, 1000);
	assert_int_equal(rl_tokens(&b, 1000), 20);
	assert_int_equal(rl_wait_ms(&b, 1000), 0);
	assert_int_equal(take_all(&b, 1000), 20);
	assert_false(rl_take(&b, 1000));
	assert_int_equal(rl_tokens(&b, 1000), 0);
}

static void refills_one_token_per_fiftieth_of_a_second_at_20(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 20, 20, 0);
	assert_int_equal(take_all(&b, 0), 20);
	assert_int_equal(rl_wait_ms(&b, 0), 50);
	assert_false(rl_take(&b, 49)); /* 49 * 20 = 980 thousandths */
	assert_int_equal(rl_wait_ms(&b, 49), 1);
	assert_true(rl_take(&b, 50)); /* exactly one token */
	assert_false(rl_take(&b, 50));
	/* One second: 20 more, never 21. */
	assert_int_equal(take_all(&b, 1050), 20);
}

static void fractional_refill_does_not_drift(void **state)
{
	struct rl_bucket b;
	int got = 0;

	(void)state;
	/* 3 per second: a token every 333.33 ms. Polled every millisecond for
	 * ten seconds, exactly 30 tokens come, each no earlier than due (the
	 * thousandths past a whole token carry over; with a burst of 1 the
	 * bucket would be full and drop them). */
	rl_init(&b, 3, 2, 0);
	assert_int_equal(take_all(&b, 0), 2);
	for (long long t = 1; t <= 10000; t++) {
		if (rl_take(&b, t)) {
			got++;
			assert_true(t * 3 >= (long long)got * 1000);
		}
	}
	assert_int_equal(got, 30);
}

static void wait_is_rounded_up(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 3, 1, 0);
	assert_true(rl_take(&b, 0));
	assert_int_equal(rl_wait_ms(&b, 0), 334); /* 333 ms give 999 thousandths */
	assert_false(rl_take(&b, 333));
	assert_int_equal(rl_wait_ms(&b, 333), 1);
	assert_true(rl_take(&b, 334));
}

static void never_holds_more_than_the_burst(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 10, 5, 0);
	assert_int_equal(take_all(&b, 0), 5);
	assert_int_equal(rl_tokens(&b, 100000), 5);
	assert_int_equal(take_all(&b, 100000), 5);
}

static void a_clock_going_back_refills_nothing(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 10, 2, 1000);
	assert_int_equal(take_all(&b, 1000), 2);
	assert_false(rl_take(&b, 500));
	assert_int_equal(rl_tokens(&b, 500), 0);
	/* Back at 1000 + 100 ms: one token, counted from 1000, not from 500. */
	assert_false(rl_take(&b, 1099));
	assert_true(rl_take(&b, 1100));
}

static void long_idle_spans_do_not_overflow(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, RL_MAX, RL_MAX, 0);
	assert_true(rl_take(&b, 0));
	assert_int_equal(rl_tokens(&b, 9000000000000000000LL), RL_MAX);
	rl_init(&b, 1, 1, -9000000000000000000LL);
	assert_true(rl_take(&b, -9000000000000000000LL));
	assert_true(rl_take(&b, 9000000000000000000LL));
	assert_false(rl_take(&b, 9000000000000000000LL));
}

static void rate_zero_is_no_limit(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, 0, 0, 0);
	for (int i = 0; i < 100000; i++)
		assert_true(rl_take(&b, 0));
	assert_int_equal(rl_wait_ms(&b, 0), 0);
	rl_init(&b, -5, 3, 0);
	assert_true(rl_take(&b, 0));
	assert_int_equal(b.rate, 0);
}

static void rate_and_burst_are_clamped(void **state)
{
	struct rl_bucket b;

	(void)state;
	rl_init(&b, RL_MAX + 1, 0, 0);
	assert_int_equal(b.rate, RL_MAX);
	assert_int_equal(b.burst, 1);
	assert_int_equal(take_all(&b, 0), 1);
	rl_init(&b, 1, RL_MAX * 10, 0);
	assert_int_equal(b.burst, RL_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(starts_full_with_one_burst),
	    cmocka_unit_test(refills_one_token_per_fiftieth_of_a_second_at_20),
	    cmocka_unit_test(fractional_refill_does_not_drift),
	    cmocka_unit_test(wait_is_rounded_up),
	    cmocka_unit_test(never_holds_more_than_the_burst),
	    cmocka_unit_test(a_clock_going_back_refills_nothing),
	    cmocka_unit_test(long_idle_spans_do_not_overflow),
	    cmocka_unit_test(rate_zero_is_no_limit),
	    cmocka_unit_test(rate_and_burst_are_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
