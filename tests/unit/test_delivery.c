/* Unit tests for delivery.c: the transition table, the lists, reaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hsbridge/delivery.h"

#define R DLV_RECEIVED
#define P DLV_POSTING
#define H DLV_HELD
#define C DLV_CONFIRMING
#define A DLV_ACKED
#define B DLV_HANDED_BACK
#define N DLV_N_STATES

/* The whole table, written out from the diagram in delivery.h. */
static const bool want[N][N] = {
    /*         R      P      H      C      A      B */
    [R] = {false, true, true, true, false, true},
    [P] = {false, false, true, true, true, true},
    [H] = {false, false, false, true, false, true},
    [C] = {false, false, true, false, true, true},
    [A] = {false, false, false, false, false, false},
    [B] = {false, false, false, false, false, false},
};

static void transition_table_is_exactly_the_diagram(void **state)
{
	(void)state;
	for (int from = 0; from < N; from++) {
		for (int to = 0; to < N; to++) {
			if (dlv_transition_allowed((enum dlv_state)from, (enum dlv_state)to) !=
			    want[from][to])
				fail_msg("%s -> %s: want %d", dlv_state_name((enum dlv_state)from),
					 dlv_state_name((enum dlv_state)to), want[from][to]);
		}
	}
	assert_false(dlv_transition_allowed(DLV_N_STATES, R));
	assert_false(dlv_transition_allowed(R, DLV_N_STATES));
	assert_string_equal(dlv_state_name(DLV_N_STATES), "invalid");
}

static struct delivery *receive(struct dlv_set *set, uint64_t tag)
{
	amqp_message_t msg;
	char *rk = strdup("document.uploaded");
	struct delivery *d;

	memset(&msg, 0, sizeof(msg));
	msg.body = amqp_bytes_malloc_dup(amqp_cstring_bytes("{}"));
	d = dlv_receive(set, NULL, 2, tag, &msg, &rk);
	assert_non_null(d);
	/* Taken over: the caller's hands are empty. */
	assert_null(rk);
	assert_null(msg.body.bytes);
	return d;
}

/* Each list holds exactly the deliveries of its state. */
static void check_lists(const struct dlv_set *set)
{
	for (int s = 0; s < N; s++) {
		size_t n = 0;
		const struct delivery *prev = NULL;

		for (const struct delivery *d = set->head[s]; d; d = d->next) {
			assert_int_equal(d->state, s);
			assert_ptr_equal(d->prev, prev);
			prev = d;
			n++;
		}
		assert_int_equal(n, set->count[s]);
	}
}

static void moves_keep_every_list_consistent(void **state)
{
	struct dlv_set set;
	struct delivery *d[5];

	(void)state;
	dlv_set_init(&set);
	for (int i = 0; i < 5; i++)
		d[i] = receive(&set, (uint64_t)i + 1);
	assert_int_equal(set.count[R], 5);
	assert_int_equal(dlv_alive(&set), 5);
	dlv_move(&set, d[0], DLV_POSTING);
	dlv_move(&set, d[2], DLV_POSTING); /* from the middle of a list */
	dlv_move(&set, d[4], DLV_POSTING);
	check_lists(&set);
	dlv_move(&set, d[2], DLV_CONFIRMING);
	dlv_move(&set, d[0], DLV_ACKED);
	dlv_move(&set, d[1], DLV_HELD);
	check_lists(&set);
	assert_int_equal(set.count[P], 1);
	assert_int_equal(set.count[C], 1);
	assert_int_equal(set.count[H], 1);
	assert_int_equal(set.count[R], 1);
	assert_int_equal(set.count[A], 1);
	/* Final deliveries are not alive, but still allocated until reaped. */
	assert_int_equal(dlv_alive(&set), 4);
	assert_int_equal(d[0]->state, DLV_ACKED);
	dlv_reap(&set);
	assert_int_equal(set.count[A], 0);
	check_lists(&set);
	/* What is still posting is handed back by cancelling its transfer. */
	dlv_move(&set, d[4], DLV_HANDED_BACK);
	dlv_hand_back_all(&set);
	check_lists(&set);
	assert_int_equal(dlv_alive(&set), 0);
	assert_int_equal(set.count[B], 4);
	dlv_reap(&set);
	for (int s = 0; s < N; s++)
		assert_null(set.head[s]);
}

static void confirming_delivery_is_found_by_sequence(void **state)
{
	struct dlv_set set;
	struct delivery *a, *b;

	(void)state;
	dlv_set_init(&set);
	a = receive(&set, 1);
	b = receive(&set, 2);
	a->copy.seq = 10;
	b->copy.seq = 11;
	dlv_move(&set, a, DLV_CONFIRMING);
	/* Only CONFIRMING counts: b has a sequence number but is elsewhere. */
	dlv_move(&set, b, DLV_HELD);
	assert_ptr_equal(dlv_find_confirming(&set, 10), a);
	assert_null(dlv_find_confirming(&set, 11));
	assert_null(dlv_find_confirming(&set, 12));
	dlv_hand_back_all(&set);
	dlv_reap(&set);
}

/* Runs fn in a child process, which must die of SIGABRT. */
static void assert_aborts(void (*fn)(void))
{
	pid_t pid;
	int status = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(STDERR_FILENO);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void ack_unsent(void)
{
	struct dlv_set set;

	dlv_set_init(&set);
	/* RECEIVED -> ACKED: never ack what was not delivered or copied. */
	dlv_move(&set, receive(&set, 1), DLV_ACKED);
}

static void hand_back_while_posting(void)
{
	struct dlv_set set;

	dlv_set_init(&set);
	dlv_move(&set, receive(&set, 1), DLV_POSTING);
	dlv_hand_back_all(&set);
}

/* Bugs abort rather than lose track of a delivery or free one a transfer
 * still reads. */
static void illegal_moves_abort(void **state)
{
	(void)state;
	assert_aborts(ack_unsent);
	assert_aborts(hand_back_while_posting);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(transition_table_is_exactly_the_diagram),
	    cmocka_unit_test(moves_keep_every_list_consistent),
	    cmocka_unit_test(confirming_delivery_is_found_by_sequence),
	    cmocka_unit_test(illegal_moves_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
