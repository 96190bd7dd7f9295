/* Unit tests for breaker.c: every transition of the circuit breaker, the
 * verdict on every status class, the doubling cool-down and its ceiling,
 * without I/O (time is passed in). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hsbridge/breaker.h"

#define SEC 1000L

static const struct breaker_conf conf = {
    .enabled = true, .failures = 3, .cooldown_ms = 30 * SEC, .max_cooldown_ms = 600 * SEC};

struct verdict_case {
	int status;
	enum breaker_verdict want;
};

/* Every status class, the verdict written out rather than derived. */
static const struct verdict_case verdicts[] = {
    {200, BREAKER_UP},	  {201, BREAKER_UP},	{204, BREAKER_UP},    {299, BREAKER_UP},
    {0, BREAKER_DOWN},	  {100, BREAKER_DOWN},	{199, BREAKER_DOWN},  {300, BREAKER_DOWN},
    {301, BREAKER_DOWN},  {304, BREAKER_DOWN},	{399, BREAKER_DOWN},  {408, BREAKER_DOWN},
    {429, BREAKER_DOWN},  {500, BREAKER_DOWN},	{502, BREAKER_DOWN},  {503, BREAKER_DOWN},
    {504, BREAKER_DOWN},  {599, BREAKER_DOWN},	{600, BREAKER_DOWN},  {410, BREAKER_GONE},
    {400, BREAKER_EVENT}, {401, BREAKER_EVENT}, {403, BREAKER_EVENT}, {404, BREAKER_EVENT},
    {409, BREAKER_EVENT}, {413, BREAKER_EVENT}, {422, BREAKER_EVENT}, {499, BREAKER_EVENT},
};

static void verdict_of_every_status_class(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		if (breaker_verdict_of(verdicts[i].status) != verdicts[i].want)
			fail_msg("status %d: verdict %d, want %d", verdicts[i].status,
				 breaker_verdict_of(verdicts[i].status), verdicts[i].want);
	}
}

static void starts_closed_at_full_prefetch(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(breaker_prefetch(&b, 64), 64);
	assert_int_equal(breaker_wait_ms(&b, 0), -1);
	assert_false(breaker_due(&b, 1000000));
	assert_false(breaker_take_probe(&b));
	assert_string_equal(breaker_state_name(b.state), "closed");
}

/* failures - 1 failures keep it closed, the next one opens it. */
static void consecutive_failures_open_it(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	for (int i = 1; i < conf.failures; i++) {
		assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0), BREAKER_SAME);
		assert_int_equal(b.state, BREAKER_CLOSED);
		assert_int_equal(b.failures, i);
	}
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 5000, 0), BREAKER_OPENED);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.failures, conf.failures);
	assert_int_equal(b.cooldown_ms, conf.cooldown_ms);
	assert_int_equal(breaker_prefetch(&b, 64), 0);
	assert_int_equal(breaker_wait_ms(&b, 5000), conf.cooldown_ms);
	assert_string_equal(breaker_state_name(b.state), "open");
}

static void a_2xx_resets_the_count(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	for (int round = 0; round < 5; round++) {
		for (int i = 1; i < conf.failures; i++)
			assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0),
					 BREAKER_SAME);
		assert_int_equal(breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0), BREAKER_SAME);
		assert_int_equal(b.failures, 0);
	}
	assert_int_equal(b.state, BREAKER_CLOSED);
}

/* A 4xx about the event neither counts nor resets. */
static void an_event_4xx_neither_counts_nor_resets(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	for (int i = 0; i < 10; i++)
		assert_int_equal(breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0), BREAKER_SAME);
	assert_int_equal(b.failures, 0);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0), BREAKER_SAME);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0), BREAKER_SAME);
	assert_int_equal(b.failures, 1);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0), BREAKER_SAME);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0), BREAKER_SAME);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0), BREAKER_OPENED);
}

static void a_410_opens_it_at_once(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 100, 0), BREAKER_OPENED);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.cooldown_ms, conf.cooldown_ms);
	assert_int_equal(b.probe_at_ms, 100 + conf.cooldown_ms);
}

/* Answers of deliveries in flight when it opened change nothing. */
static void answers_while_open_change_nothing(void **state)
{
	static const enum breaker_verdict all[] = {BREAKER_UP, BREAKER_DOWN, BREAKER_GONE,
						   BREAKER_EVENT};
	struct breaker b;
	struct breaker before;

	(void)state;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0), BREAKER_OPENED);
	before = b;
	for (size_t i = 0; i < 4; i++) {
		for (int probe = 0; probe < 2; probe++) {
			assert_int_equal(breaker_answer(&b, &conf, all[i], probe, 10, 0), BREAKER_SAME);
			assert_memory_equal(&b, &before, sizeof(b));
		}
	}
}

static void the_cooldown_ends_half_open_with_one_probe(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0), BREAKER_OPENED);
	assert_false(breaker_due(&b, conf.cooldown_ms - 1));
	assert_int_equal(breaker_wait_ms(&b, conf.cooldown_ms - 1), 1);
	assert_true(breaker_due(&b, conf.cooldown_ms));
	assert_int_equal(breaker_wait_ms(&b, conf.cooldown_ms + 5), 0);
	assert_false(breaker_take_probe(&b)); /* not before half-open */
	breaker_half_open(&b);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_string_equal(breaker_state_name(b.state), "half_open");
	assert_int_equal(breaker_prefetch(&b, 64), 1);
	assert_int_equal(breaker_wait_ms(&b, 0), -1);
	assert_false(breaker_due(&b, 1000000000));
	assert_true(breaker_take_probe(&b));
	assert_false(breaker_take_probe(&b)); /* exactly one at a time */
	breaker_half_open(&b);		      /* not OPEN: no change */
	assert_true(b.probing);
}

static void open_half_open(struct breaker *b, long long now)
{
	assert_true(breaker_due(b, now));
	breaker_half_open(b);
	assert_true(breaker_take_probe(b));
}

static void a_2xx_probe_closes_it_and_resets_the_cooldown(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0), BREAKER_OPENED);
	open_half_open(&b, conf.cooldown_ms);
	/* Not the probe: ignored. */
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0), BREAKER_SAME);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0), BREAKER_SAME);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_UP, true, 0, 0), BREAKER_CLOSED_AGAIN);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.failures, 0);
	assert_int_equal(breaker_prefetch(&b, 64), 64);
	/* The next opening starts from the first cool-down again. */
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0), BREAKER_OPENED);
	assert_int_equal(b.cooldown_ms, conf.cooldown_ms);
}

/* A failed probe reopens it with twice the cool-down, up to the max, where
 * it stays: 30 60 120 240 480 600 600. A 410 probe likewise. */
static void a_failed_probe_doubles_the_cooldown_up_to_the_max(void **state)
{
	static const long want[] = {60, 120, 240, 480, 600, 600, 600};
	struct breaker b;
	long long now = 0;

	(void)state;
	breaker_init(&b);
	for (int i = 0; i < conf.failures; i++)
		(void)breaker_answer(&b, &conf, BREAKER_DOWN, false, now, 0);
	assert_int_equal(b.cooldown_ms, 30 * SEC);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		now = b.probe_at_ms;
		open_half_open(&b, now);
		assert_int_equal(breaker_answer(&b, &conf, i % 2 ? BREAKER_GONE : BREAKER_DOWN,
						true, now, 0),
				 BREAKER_OPENED);
		assert_int_equal(b.state, BREAKER_OPEN);
		assert_int_equal(b.cooldown_ms, want[i] * SEC);
		assert_int_equal(b.probe_at_ms, now + want[i] * SEC);
		assert_false(b.probing);
	}
}

/* A max that is not a power-of-two multiple is reached, not passed; a max
 * equal to the cool-down keeps it fixed. */
static void the_max_is_reached_exactly(void **state)
{
	struct breaker_conf c = conf;
	struct breaker b;

	(void)state;
	c.cooldown_ms = 7 * SEC;
	c.max_cooldown_ms = 20 * SEC;
	breaker_init(&b);
	(void)breaker_answer(&b, &c, BREAKER_GONE, false, 0, 0);
	open_half_open(&b, b.probe_at_ms);
	(void)breaker_answer(&b, &c, BREAKER_DOWN, true, 0, 0);
	assert_int_equal(b.cooldown_ms, 14 * SEC);
	open_half_open(&b, b.probe_at_ms);
	(void)breaker_answer(&b, &c, BREAKER_DOWN, true, 0, 0);
	assert_int_equal(b.cooldown_ms, 20 * SEC);
	c.max_cooldown_ms = c.cooldown_ms;
	breaker_init(&b);
	(void)breaker_answer(&b, &c, BREAKER_GONE, false, 0, 0);
	open_half_open(&b, b.probe_at_ms);
	(void)breaker_answer(&b, &c, BREAKER_DOWN, true, 0, 0);
	assert_int_equal(b.cooldown_ms, 7 * SEC);
}

/* A probe answered with a 4xx about its event decides nothing: still
 * half-open, and the next message probes. */
static void an_event_4xx_probe_leaves_it_half_open(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	(void)breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0);
	open_half_open(&b, b.probe_at_ms);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_EVENT, true, 0, 0), BREAKER_SAME);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_false(b.probing);
	assert_true(breaker_take_probe(&b));
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_UP, true, 0, 0), BREAKER_CLOSED_AGAIN);
}

/* A probe handed back with the session: the next message probes. */
static void a_lost_probe_is_taken_again(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	breaker_probe_lost(&b); /* closed: nothing */
	assert_int_equal(b.state, BREAKER_CLOSED);
	(void)breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0);
	open_half_open(&b, b.probe_at_ms);
	breaker_probe_lost(&b);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_true(breaker_take_probe(&b));
}

/* enabled = false: today's behaviour, never anything but closed. */
static void disabled_never_opens(void **state)
{
	struct breaker_conf off = conf;
	struct breaker b;

	(void)state;
	off.enabled = false;
	breaker_init(&b);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(breaker_answer(&b, &off, i % 2 ? BREAKER_GONE : BREAKER_DOWN,
						false, i, 0),
				 BREAKER_SAME);
		assert_int_equal(b.state, BREAKER_CLOSED);
		assert_int_equal(breaker_prefetch(&b, 8), 8);
	}
}

/* failures = 1: the first failure opens it. */
static void one_failure_is_enough_when_configured(void **state)
{
	struct breaker_conf c = conf;
	struct breaker b;

	(void)state;
	c.failures = 1;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &c, BREAKER_DOWN, false, 0, 0), BREAKER_OPENED);
}

/* The jitter: a factor 1.0 - 0.2 u, u clamped to [0, 1]. */
static void the_jitter_shortens_by_at_most_a_fifth(void **state)
{
	(void)state;
	assert_int_equal(breaker_jitter_ms(30 * SEC, 0.0), 30 * SEC);
	assert_int_equal(breaker_jitter_ms(30 * SEC, 1.0), 24 * SEC);
	assert_int_equal(breaker_jitter_ms(30 * SEC, 0.5), 27 * SEC);
	assert_int_equal(breaker_jitter_ms(30 * SEC, -3.0), 30 * SEC);
	assert_int_equal(breaker_jitter_ms(30 * SEC, 7.0), 24 * SEC);
	assert_int_equal(breaker_jitter_ms(30 * SEC, 0.0 / 0.0), 30 * SEC);
	for (int i = 0; i <= 100; i++) {
		long ms = breaker_jitter_ms(1000, i / 100.0);

		assert_true(ms >= 800 && ms <= 1000);
	}
}

/* Opening waits the jittered cool-down; cooldown_ms keeps the nominal one
 * (it is what doubles, and what the log says). */
static void opening_waits_the_jittered_cooldown(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_GONE, false, 100, 1.0), BREAKER_OPENED);
	assert_int_equal(b.cooldown_ms, 30 * SEC);
	assert_int_equal(b.probe_at_ms, 100 + 24 * SEC);
	assert_false(breaker_due(&b, 100 + 24 * SEC - 1));
	assert_true(breaker_due(&b, 100 + 24 * SEC));
	open_half_open(&b, b.probe_at_ms);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_DOWN, true, 1000, 0.5), BREAKER_OPENED);
	assert_int_equal(b.cooldown_ms, 60 * SEC);
	assert_int_equal(b.probe_at_ms, 1000 + 54 * SEC);
}

/* Which failures spend no attempt: an endpoint failure (DOWN) with the
 * breaker enabled, when it is not closed afterwards, or on the last attempt
 * when the answer before it was not a 2xx. 2xx, 410 and an event 4xx
 * always count. */
static void which_attempts_are_spared(void **state)
{
	static const enum breaker_verdict others[] = {BREAKER_UP, BREAKER_GONE, BREAKER_EVENT};
	struct breaker_conf off = conf;
	struct breaker closed, open;

	(void)state;
	off.enabled = false;
	breaker_init(&closed);
	breaker_init(&open);
	(void)breaker_answer(&open, &conf, BREAKER_GONE, false, 0, 0);
	for (int last = 0; last <= 1; last++) {
		for (int up = 0; up <= 1; up++) {
			assert_true(breaker_spares(&conf, BREAKER_DOWN, up, &open, last));
			for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
				assert_false(breaker_spares(&conf, others[i], up, &open, last));
				assert_false(breaker_spares(&conf, others[i], up, &closed, last));
			}
			/* enabled = false: today's behaviour, every attempt counts */
			assert_false(breaker_spares(&off, BREAKER_DOWN, up, &open, last));
			assert_false(breaker_spares(&off, BREAKER_DOWN, up, &closed, last));
		}
	}
	/* Closed after it: only the last attempt, and only when the endpoint
	 * has not answered 2xx just before, is spared. */
	assert_false(breaker_spares(&conf, BREAKER_DOWN, false, &closed, false));
	assert_false(breaker_spares(&conf, BREAKER_DOWN, true, &closed, false));
	assert_true(breaker_spares(&conf, BREAKER_DOWN, false, &closed, true));
	assert_false(breaker_spares(&conf, BREAKER_DOWN, true, &closed, true));
	/* Half-open (a probe pending) is not closed either. */
	open_half_open(&open, open.probe_at_ms);
	assert_true(breaker_spares(&conf, BREAKER_DOWN, true, &open, false));
}

/* up: BREAKER_UP_STREAK (2) 2xx in a row since the last answer about the
 * endpoint that was a failure. A new breaker has seen none; an event 4xx
 * says nothing; a closing probe's 2xx is one, not enough alone (a flap:
 * review of issue 7). */
static void up_needs_two_2xx_in_a_row(void **state)
{
	struct breaker b;

	(void)state;
	breaker_init(&b);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	assert_true(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0);
	assert_true(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	assert_true(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_EVENT, false, 0, 0);
	assert_false(b.up);
	/* one 2xx between two failures: a flap, not up */
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_DOWN, false, 0, 0);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	(void)breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0);
	assert_false(b.up);
	open_half_open(&b, b.probe_at_ms);
	assert_int_equal(breaker_answer(&b, &conf, BREAKER_UP, true, 0, 0), BREAKER_CLOSED_AGAIN);
	assert_false(b.up);
	(void)breaker_answer(&b, &conf, BREAKER_UP, false, 0, 0);
	assert_true(b.up);
}

/* A reload's smaller max_cooldown cuts an open breaker's cool-down and
 * brings its probe forward; a larger one, or a closed breaker, is left. */
static void a_reload_clamps_the_cooldown_and_the_probe_time(void **state)
{
	struct breaker_conf small = conf;
	struct breaker b, kept;

	(void)state;
	small.cooldown_ms = 1 * SEC;
	small.max_cooldown_ms = 5 * SEC;
	breaker_init(&b);
	breaker_reconf(&b, &small, 0);
	assert_int_equal(b.state, BREAKER_CLOSED);
	assert_int_equal(b.cooldown_ms, 0);
	(void)breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0); /* open, 30 s */
	kept = b;
	breaker_reconf(&kept, &conf, 10 * SEC); /* the same conf: nothing changes */
	assert_memory_equal(&kept, &b, sizeof(b));
	breaker_reconf(&b, &small, 10 * SEC);
	assert_int_equal(b.state, BREAKER_OPEN);
	assert_int_equal(b.cooldown_ms, 5 * SEC);
	assert_int_equal(b.probe_at_ms, 15 * SEC);
	/* A probe already due sooner stays as it is. */
	breaker_reconf(&b, &small, 14 * SEC);
	assert_int_equal(b.probe_at_ms, 15 * SEC);
	/* The next cool-down doubles from the clamped one, up to the new max. */
	open_half_open(&b, b.probe_at_ms);
	(void)breaker_answer(&b, &small, BREAKER_DOWN, true, 20 * SEC, 0);
	assert_int_equal(b.cooldown_ms, 5 * SEC);
	/* Half-open: the cool-down is cut too (the next one doubles from it). */
	b.cooldown_ms = 60 * SEC;
	open_half_open(&b, b.probe_at_ms);
	breaker_reconf(&b, &small, 0);
	assert_int_equal(b.state, BREAKER_HALF_OPEN);
	assert_int_equal(b.cooldown_ms, 5 * SEC);
}

/* Without a reload's clamp, a cool-down longer than the max still falls to
 * the max on the next failed probe (it used to stay). */
static void a_cooldown_over_the_max_falls_to_it(void **state)
{
	struct breaker_conf small = conf;
	struct breaker b;

	(void)state;
	small.max_cooldown_ms = 40 * SEC;
	breaker_init(&b);
	(void)breaker_answer(&b, &conf, BREAKER_GONE, false, 0, 0);
	b.cooldown_ms = 600 * SEC;
	open_half_open(&b, b.probe_at_ms);
	(void)breaker_answer(&b, &small, BREAKER_DOWN, true, 0, 0);
	assert_int_equal(b.cooldown_ms, 40 * SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(verdict_of_every_status_class),
	    cmocka_unit_test(starts_closed_at_full_prefetch),
	    cmocka_unit_test(consecutive_failures_open_it),
	    cmocka_unit_test(a_2xx_resets_the_count),
	    cmocka_unit_test(an_event_4xx_neither_counts_nor_resets),
	    cmocka_unit_test(a_410_opens_it_at_once),
	    cmocka_unit_test(answers_while_open_change_nothing),
	    cmocka_unit_test(the_cooldown_ends_half_open_with_one_probe),
	    cmocka_unit_test(a_2xx_probe_closes_it_and_resets_the_cooldown),
	    cmocka_unit_test(a_failed_probe_doubles_the_cooldown_up_to_the_max),
	    cmocka_unit_test(the_max_is_reached_exactly),
	    cmocka_unit_test(an_event_4xx_probe_leaves_it_half_open),
	    cmocka_unit_test(a_lost_probe_is_taken_again),
	    cmocka_unit_test(disabled_never_opens),
	    cmocka_unit_test(one_failure_is_enough_when_configured),
	    cmocka_unit_test(the_jitter_shortens_by_at_most_a_fifth),
	    cmocka_unit_test(opening_waits_the_jittered_cooldown),
	    cmocka_unit_test(which_attempts_are_spared),
	    cmocka_unit_test(up_needs_two_2xx_in_a_row),
	    cmocka_unit_test(a_reload_clamps_the_cooldown_and_the_probe_time),
	    cmocka_unit_test(a_cooldown_over_the_max_falls_to_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
