/* Unit tests for nodes.c: the shuffled order of broker.url's list and the
 * next URL to try. The order must be a permutation for every size and
 * seed, spread the first node over bridges whose seeds differ, and a pass
 * must try every URL exactly once before the caller backs off, whatever
 * sequence of failures, connects, losses and restarts came before. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hsbridge/nodes.h"

static void assert_permutation(const struct nodes *s)
{
	bool seen[NODES_MAX] = {false};

	for (size_t i = 0; i < s->n; i++) {
		assert_true(s->order[i] < s->n);
		assert_false(seen[s->order[i]]);
		seen[s->order[i]] = true;
	}
}

static void order_is_a_permutation_for_every_size_and_seed(void **state)
{
	(void)state;
	for (size_t n = 1; n <= NODES_MAX; n++) {
		for (uint32_t seed = 0; seed < 3000; seed++) {
			struct nodes s;

			nodes_init(&s, n, seed * 2654435761u);
			assert_int_equal(s.n, n);
			assert_int_equal(s.failed, 0);
			assert_permutation(&s);
			assert_int_equal(nodes_current(&s), s.order[0]);
		}
	}
}

static void same_seed_gives_the_same_order_and_sizes_are_clamped(void **state)
{
	struct nodes a, b;

	(void)state;
	for (uint32_t seed = 0; seed < 500; seed++) {
		nodes_init(&a, 7, seed);
		nodes_init(&b, 7, seed);
		assert_memory_equal(a.order, b.order, sizeof(a.order));
	}
	nodes_init(&a, 0, 42);
	assert_int_equal(a.n, 1);
	assert_int_equal(nodes_current(&a), 0);
	nodes_init(&a, NODES_MAX + 5, 42);
	assert_int_equal(a.n, NODES_MAX);
	assert_permutation(&a);
}

/* Bridges seed with their pid and start time: neighbouring seeds, and
 * seeds far apart, must each spread the first node evenly (each of 3 nodes
 * first for about a third of the bridges) and give every order. */
static void seeds_spread_bridges_over_the_nodes(void **state)
{
	static const uint32_t bases[] = {0, 1000, 1700000000u, 0x80000000u};

	(void)state;
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		unsigned first[3] = {0}, perms[27] = {0};
		unsigned distinct = 0;

		for (uint32_t k = 0; k < 3000; k++) {
			struct nodes s;

			nodes_init(&s, 3, bases[b] + k);
			first[nodes_current(&s)]++;
			perms[s.order[0] * 9 + s.order[1] * 3 + s.order[2]]++;
		}
		for (int i = 0; i < 3; i++) {
			assert_in_range(first[i], 800, 1200);
		}
		for (int i = 0; i < 27; i++)
			distinct += perms[i] > 0;
		assert_int_equal(distinct, 6);
	}
}

/* From any URL, n failures in a row try each URL once, end the pass only
 * at the nth, and come back to where the pass began. */
static void a_pass_tries_every_url_once_then_backs_off(void **state)
{
	(void)state;
	for (size_t n = 1; n <= NODES_MAX; n++) {
		for (size_t start = 0; start < n; start++) {
			struct nodes s;
			bool tried[NODES_MAX] = {false};

			nodes_init(&s, n, (uint32_t)(n * 31 + start));
			nodes_start_at(&s, start);
			assert_int_equal(nodes_current(&s), start);
			for (size_t k = 0; k < n; k++) {
				size_t cur = nodes_current(&s);

				assert_false(tried[cur]);
				tried[cur] = true;
				assert_int_equal(nodes_failed(&s), k == n - 1);
			}
			assert_int_equal(nodes_current(&s), start);
		}
	}
}

/* A single URL behaves as before lists existed: every failure backs off. */
static void a_single_url_backs_off_after_every_failure(void **state)
{
	struct nodes s;

	(void)state;
	nodes_init(&s, 1, 7);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(nodes_current(&s), 0);
		assert_true(nodes_failed(&s));
	}
	nodes_lost(&s);
	assert_int_equal(nodes_current(&s), 0);
	assert_true(nodes_failed(&s));
}

/* After a loss the next URL is tried first and the lost one last. */
static void a_lost_node_is_tried_last(void **state)
{
	(void)state;
	for (size_t n = 2; n <= NODES_MAX; n++) {
		for (size_t on = 0; on < n; on++) {
			struct nodes s;
			size_t p;

			nodes_init(&s, n, (uint32_t)(n * 131 + on));
			nodes_start_at(&s, on);
			nodes_connected(&s);
			p = s.pos;
			nodes_lost(&s);
			assert_int_equal(nodes_current(&s), s.order[(p + 1) % n]);
			for (size_t k = 0; k + 1 < n; k++) {
				assert_int_not_equal(nodes_current(&s), on);
				assert_false(nodes_failed(&s));
			}
			assert_int_equal(nodes_current(&s), on);
			assert_true(nodes_failed(&s));
		}
	}
}

static void a_connect_or_restart_begins_a_new_pass(void **state)
{
	struct nodes s;

	(void)state;
	nodes_init(&s, 4, 99);
	assert_false(nodes_failed(&s));
	assert_false(nodes_failed(&s));
	nodes_connected(&s);
	for (int k = 0; k < 3; k++)
		assert_false(nodes_failed(&s));
	assert_true(nodes_failed(&s));
	assert_false(nodes_failed(&s));
	nodes_start_at(&s, s.order[3]);
	for (int k = 0; k < 3; k++)
		assert_false(nodes_failed(&s));
	assert_true(nodes_failed(&s));
	/* An index that is not in the list changes nothing. */
	assert_false(nodes_failed(&s));
	nodes_start_at(&s, 4);
	assert_int_equal(s.failed, 1);
	assert_false(nodes_failed(&s));
	assert_false(nodes_failed(&s));
	assert_true(nodes_failed(&s));
}

/* Every sequence of up to 7 events (fail, connected, lost, start_at of
 * each index) for lists of 1 to 4 URLs: a pass ends exactly when every URL
 * failed once since the pass began, and no URL is tried twice in a pass. */
enum { EV_FAIL, EV_CONNECTED, EV_LOST, EV_START };

struct walk {
	struct nodes s;
	bool tried[NODES_MAX];
	size_t fails;
};

static void walk_begin_pass(struct walk *w)
{
	memset(w->tried, 0, sizeof(w->tried));
	w->fails = 0;
}

static void walk_step(struct walk *w, int ev)
{
	size_t n = w->s.n;

	if (ev == EV_FAIL) {
		size_t cur = nodes_current(&w->s);
		bool ended;

		assert_false(w->tried[cur]);
		w->tried[cur] = true;
		w->fails++;
		ended = nodes_failed(&w->s);
		assert_int_equal(ended, w->fails == n);
		if (ended)
			walk_begin_pass(w);
	} else if (ev == EV_CONNECTED) {
		nodes_connected(&w->s);
		walk_begin_pass(w);
	} else if (ev == EV_LOST) {
		nodes_lost(&w->s);
		walk_begin_pass(w);
	} else {
		nodes_start_at(&w->s, (size_t)(ev - EV_START));
		assert_int_equal(nodes_current(&w->s), (size_t)(ev - EV_START));
		walk_begin_pass(w);
	}
	assert_true(w->s.failed < n);
	assert_true(w->s.pos < n);
}

static void every_event_sequence_keeps_passes_whole(void **state)
{
	unsigned long walks = 0;

	(void)state;
	for (size_t n = 1; n <= 4; n++) {
		int kinds = EV_START + (int)n;

		for (int len = 1; len <= 7; len++) {
			long total = 1;

			for (int i = 0; i < len; i++)
				total *= kinds;
			for (long code = 0; code < total; code++) {
				struct walk w;
				long c = code;

				nodes_init(&w.s, n, (uint32_t)code);
				walk_begin_pass(&w);
				for (int i = 0; i < len; i++, c /= kinds)
					walk_step(&w, (int)(c % kinds));
				walks++;
			}
		}
	}
	assert_true(walks > 800000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(order_is_a_permutation_for_every_size_and_seed),
	    cmocka_unit_test(same_seed_gives_the_same_order_and_sizes_are_clamped),
	    cmocka_unit_test(seeds_spread_bridges_over_the_nodes),
	    cmocka_unit_test(a_pass_tries_every_url_once_then_backs_off),
	    cmocka_unit_test(a_single_url_backs_off_after_every_failure),
	    cmocka_unit_test(a_lost_node_is_tried_last),
	    cmocka_unit_test(a_connect_or_restart_begins_a_new_pass),
	    cmocka_unit_test(every_event_sequence_keeps_passes_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
