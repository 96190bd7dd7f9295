/* Unit tests for broker.c's pure part: the jittered reconnect backoff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "hsbridge/broker.h"

/* The ceiling after n failures, written out: 500, 1000, 2000, 4000, then
 * the 5000 cap for good. */
static const long ceilings[] = {500, 1000, 2000, 4000, 5000, 5000, 5000};

static void delay_lies_between_half_the_ceiling_and_the_ceiling(void **state)
{
	static const uint32_t rnds[] = {0, 1, 2, 249, 250, 251, 12345, 0x7fffffff, UINT32_MAX};

	(void)state;
	for (unsigned n = 0; n < sizeof(ceilings) / sizeof(ceilings[0]); n++) {
		for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
			long d = brk_backoff_ms(n, rnds[i]);

			assert_in_range(d, ceilings[n] / 2, ceilings[n]);
		}
		assert_int_equal(brk_backoff_ms(n, 0), ceilings[n] / 2);
		assert_int_equal(brk_backoff_ms(n, (uint32_t)(ceilings[n] / 2)), ceilings[n]);
	}
}

static void capped_at_five_seconds_for_any_failure_count(void **state)
{
	(void)state;
	for (unsigned n = 4; n < 200; n++)
		assert_in_range(brk_backoff_ms(n, (uint32_t)n * 7919u), 2500, 5000);
	assert_in_range(brk_backoff_ms(UINT_MAX, UINT32_MAX), 2500, 5000);
	assert_int_equal(BRK_BACKOFF_MAX_MS, 5000);
}

/* Bridges that lost the same broker draw different delays: the whole
 * upper half of the ceiling is used, not one value. */
static void different_draws_spread_over_the_range(void **state)
{
	long lo = LONG_MAX;
	long hi = 0;
	int distinct = 0;
	long last = -1;

	(void)state;
	for (uint32_t r = 0; r < 2600; r++) {
		long d = brk_backoff_ms(6, r);

		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
		if (d != last)
			distinct++;
		last = d;
	}
	assert_int_equal(lo, 2500);
	assert_int_equal(hi, 5000);
	assert_true(distinct > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(delay_lies_between_half_the_ceiling_and_the_ceiling),
	    cmocka_unit_test(capped_at_five_seconds_for_any_failure_count),
	    cmocka_unit_test(different_draws_spread_over_the_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
