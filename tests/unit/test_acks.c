/* Unit tests for acks.c: the ledger that coalesces a channel's acks. Every
 * flush is played against a model of the broker's side (its list of the
 * channel's unacked deliveries and what basic.ack does to it), so that a
 * multiple ack covering an undecided tag, or an ack of a tag the broker no
 * longer holds (a channel error), fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/acks.h"

#define MAX_TAGS 512

/* The broker's view of one channel, and the bridge's decisions. */
struct model {
	uint64_t next;		    /* the next delivery tag */
	bool unacked[MAX_TAGS];	    /* delivered, not settled by an ack */
	bool decided[MAX_TAGS];	    /* the bridge decided it: it may be acked */
	bool handed_back[MAX_TAGS]; /* must never be acked on this channel */
	unsigned frames, multiples;
	int fail_at; /* the nth send fails (-1: none) */
};

/* Over all tests: that the random walks reach every kind of frame. */
static unsigned long all_multiples, all_singles;

static void model_reset(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->next = 1;
	m->fail_at = -1;
}

/* basic.ack as the broker takes it: the tag must be unacked (else
 * PRECONDITION_FAILED, "unknown delivery tag"), and multiple settles every
 * unacked tag up to it. Every tag settled must have been decided. */
static int broker_ack(void *arg, uint64_t tag, bool multiple)
{
	struct model *m = arg;

	if (m->fail_at >= 0 && (unsigned)m->fail_at == m->frames)
		return -7;
	m->frames++;
	m->multiples += multiple;
	if (multiple)
		all_multiples++;
	else
		all_singles++;
	if (tag == 0 || tag >= m->next || !m->unacked[tag])
		fail_msg("ack of tag %llu, which the broker does not hold unacked",
			 (unsigned long long)tag);
	for (uint64_t t = multiple ? 1 : tag; t <= tag; t++) {
		if (!m->unacked[t])
			continue;
		if (!m->decided[t] || m->handed_back[t])
			fail_msg("an ack (tag %llu, multiple %d) covers tag %llu, which was not "
				 "decided%s",
				 (unsigned long long)tag, multiple, (unsigned long long)t,
				 m->handed_back[t] ? " (handed back)" : "");
		m->unacked[t] = false;
	}
	return 0;
}

static uint64_t deliver(struct model *m, struct acks *a)
{
	uint64_t t = m->next++;

	assert_true(t < MAX_TAGS);
	m->unacked[t] = true;
	assert_int_equal(acks_received(a, t), 0);
	return t;
}

static void decide(struct model *m, struct acks *a, uint64_t t)
{
	assert_int_equal(acks_decide(a, t), 0);
	m->decided[t] = true;
}

/* A flush, then: every decided tag is settled, nothing else is. */
static void flush_and_check(struct model *m, struct acks *a)
{
	assert_int_equal(acks_flush(a, broker_ack, m), 0);
	assert_false(acks_pending(a));
	for (uint64_t t = 1; t < m->next; t++) {
		if (m->decided[t] && m->unacked[t])
			fail_msg("tag %llu was decided but is still unacked after the flush",
				 (unsigned long long)t);
		if (!m->decided[t] && !m->unacked[t])
			fail_msg("tag %llu was settled without a decision", (unsigned long long)t);
	}
}

static void in_order_decisions_go_out_as_one_multiple_ack(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	model_reset(&m);
	acks_init(&a);
	for (int i = 0; i < 50; i++)
		deliver(&m, &a);
	for (uint64_t t = 1; t <= 50; t++)
		decide(&m, &a, t);
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 1);
	assert_int_equal(m.multiples, 1);
	assert_int_equal(a.len, 0);
	acks_free(&a);
}

/* 1..10 delivered; 1-3 and 5, 7 decided, 4 held (or handed back), 6 and
 * 8-10 in flight: one multiple ack up to 3, single acks of 5 and 7. */
static void undecided_tag_stops_the_multiple_ack(void **state)
{
	struct model m;
	struct acks a;
	static const uint64_t decided[] = {2, 1, 7, 3, 5};

	(void)state;
	model_reset(&m);
	acks_init(&a);
	for (int i = 0; i < 10; i++)
		deliver(&m, &a);
	m.handed_back[4] = true;
	for (size_t i = 0; i < sizeof(decided) / sizeof(decided[0]); i++)
		decide(&m, &a, decided[i]);
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 3);
	assert_int_equal(m.multiples, 1);
	assert_int_equal(a.len, 5); /* 4, 6, 8, 9, 10 */
	/* Later decisions beyond 4 still go out, 4 never does. */
	for (uint64_t t = 6; t <= 10; t += 2)
		decide(&m, &a, t);
	decide(&m, &a, 9);
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 3 + 4);
	assert_int_equal(a.len, 1);
	assert_true(m.unacked[4]);
	acks_free(&a);
}

static void a_single_decided_tag_is_acked_alone(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	model_reset(&m);
	acks_init(&a);
	deliver(&m, &a);
	deliver(&m, &a);
	decide(&m, &a, 1);
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 1);
	assert_int_equal(m.multiples, 0);
	/* Nothing decided: nothing sent. */
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 1);
	acks_free(&a);
}

static void unknown_or_twice_decided_tags_are_refused(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	model_reset(&m);
	acks_init(&a);
	assert_int_equal(acks_decide(&a, 1), -1); /* nothing delivered */
	deliver(&m, &a);
	deliver(&m, &a);
	deliver(&m, &a);
	assert_int_equal(acks_decide(&a, 0), -1);
	assert_int_equal(acks_decide(&a, 4), -1);
	decide(&m, &a, 2);
	assert_int_equal(acks_decide(&a, 2), -1);
	flush_and_check(&m, &a);
	/* Sent: no longer held. */
	assert_int_equal(acks_decide(&a, 2), -1);
	assert_false(acks_pending(&a));
	acks_free(&a);
}

/* A reopened channel (or a new connection) starts its tags over: what the
 * old one held is never sent, and an old tag decided late is refused. */
static void reset_forgets_the_old_channel(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	model_reset(&m);
	acks_init(&a);
	for (int i = 0; i < 5; i++)
		deliver(&m, &a);
	decide(&m, &a, 1);
	decide(&m, &a, 2);
	acks_reset(&a);
	model_reset(&m);
	assert_false(acks_pending(&a));
	assert_int_equal(acks_decide(&a, 3), -1);
	deliver(&m, &a);
	deliver(&m, &a);
	decide(&m, &a, 2);
	flush_and_check(&m, &a);
	assert_int_equal(m.frames, 1);
	assert_true(m.unacked[1]);
	/* A tag that does not grow means the channel started over unseen. */
	model_reset(&m);
	deliver(&m, &a);
	assert_int_equal(a.len, 1);
	decide(&m, &a, 1);
	flush_and_check(&m, &a);
	acks_free(&a);
}

static void a_failed_send_stops_and_resets(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	model_reset(&m);
	acks_init(&a);
	for (int i = 0; i < 6; i++)
		deliver(&m, &a);
	decide(&m, &a, 1);
	decide(&m, &a, 3);
	decide(&m, &a, 5);
	m.fail_at = 1;
	assert_int_equal(acks_flush(&a, broker_ack, &m), -7);
	assert_int_equal(m.frames, 1);
	assert_int_equal(a.len, 0);
	assert_false(acks_pending(&a));
	acks_free(&a);
}

/* Every subset of n delivered tags decided, for n up to 12: one flush
 * settles exactly the decided ones, with one frame for the run at the
 * front and one per decided tag beyond it. */
static void every_subset_of_decisions(void **state)
{
	struct model m;
	struct acks a;

	(void)state;
	acks_init(&a);
	for (unsigned n = 1; n <= 12; n++) {
		for (unsigned set = 0; set < (1u << n); set++) {
			unsigned run = 0, beyond = 0;

			model_reset(&m);
			acks_reset(&a);
			for (unsigned i = 0; i < n; i++)
				deliver(&m, &a);
			for (unsigned i = 0; i < n; i++) {
				if (set & (1u << i))
					decide(&m, &a, i + 1);
			}
			while (run < n && (set & (1u << run)))
				run++;
			for (unsigned i = run; i < n; i++)
				beyond += (set >> i) & 1;
			flush_and_check(&m, &a);
			assert_int_equal(m.frames, (run > 0) + beyond);
			assert_int_equal(m.multiples, run > 1);
		}
	}
	acks_free(&a);
}

/* The undecided tags, in the order a random walk picks them. */
static uint64_t pick_undecided(const struct model *m, unsigned r)
{
	uint64_t cand[MAX_TAGS];
	size_t n = 0;

	for (uint64_t t = 1; t < m->next; t++) {
		if (m->unacked[t] && !m->decided[t] && !m->handed_back[t])
			cand[n++] = t;
	}
	return n ? cand[r % n] : 0;
}

/* Random interleavings of deliveries, decisions in any order, hand-backs,
 * flushes and channel resets, each flush checked against the model. */
static void random_walks_match_the_broker_model(void **state)
{
	struct model m;
	struct acks a;
	unsigned seed = 9;
	unsigned long resets = 0, handed_back = 0;

	(void)state;
	all_multiples = all_singles = 0;
	for (int walk = 0; walk < 2000; walk++) {
		model_reset(&m);
		acks_init(&a);
		for (int step = 0; step < 300; step++) {
			unsigned r = (unsigned)rand_r(&seed);
			unsigned op = r % 16;
			uint64_t t;

			if (op < 5 && m.next < MAX_TAGS - 1) {
				deliver(&m, &a);
			} else if (op >= 5 && op < 10) {
				t = pick_undecided(&m, r >> 4);
				if (t)
					decide(&m, &a, t);
			} else if (op == 10 && r % 64 == 10) {
				/* Handed back: never decided on this channel. */
				t = pick_undecided(&m, r >> 4);
				if (t) {
					m.handed_back[t] = true;
					handed_back++;
				}
			} else if (op >= 11 && op < 14) {
				flush_and_check(&m, &a);
			} else if (op == 14) {
				/* A late decision for a tag already sent is refused. */
				for (t = 1; t < m.next && (m.unacked[t] || !m.decided[t]); t++)
					;
				if (t < m.next)
					assert_int_equal(acks_decide(&a, t), -1);
			} else if (op == 15 && r % 64 == 15) {
				/* The channel opened again: its tags start over. */
				acks_reset(&a);
				model_reset(&m);
				resets++;
			}
		}
		flush_and_check(&m, &a);
		acks_free(&a);
	}
	/* The walks did reach what they are for. */
	assert_true(all_multiples > 10000);
	assert_true(all_singles > 10000);
	assert_true(handed_back > 5000);
	assert_true(resets > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(in_order_decisions_go_out_as_one_multiple_ack),
	    cmocka_unit_test(undecided_tag_stops_the_multiple_ack),
	    cmocka_unit_test(a_single_decided_tag_is_acked_alone),
	    cmocka_unit_test(unknown_or_twice_decided_tags_are_refused),
	    cmocka_unit_test(reset_forgets_the_old_channel),
	    cmocka_unit_test(a_failed_send_stops_and_resets),
	    cmocka_unit_test(every_subset_of_decisions),
	    cmocka_unit_test(random_walks_match_the_broker_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
