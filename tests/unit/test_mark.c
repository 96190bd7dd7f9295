/* Unit tests for mark.c: the seal on the bridge's bookkeeping headers. The
 * expected marks were computed independently with python3's hmac and
 * hashlib (key = HMAC(secret, label), mark = HMAC(key, fields + SHA-256 of
 * the body)). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hsbridge/mark.h"

static const char body[] = "{\"data\":{}}";
static const char want[] = "d0ac628ac8c457f453d48b4d88e4365da826af055f63506cb55ca24abdc73132";

static struct mark_input input(void)
{
	struct mark_input in = {.sub = "clinic",
				.attempts = 3,
				.first_failure_at = "2024-02-27T10:30:00Z",
				.body = body,
				.len = sizeof(body) - 1};
	return in;
}

static void mark_matches_an_independent_computation(void **state)
{
	struct mark_input in = input();
	struct mark_input empty = {.sub = "clinic", .attempts = 1, .first_failure_at = ""};
	char out[MARK_HEX_LEN + 1];

	(void)state;
	assert_int_equal(mark_compute("whsec_test", &in, out), 0);
	assert_string_equal(out, want);
	/* An empty body (no bytes, NULL pointer) is a body too. */
	assert_int_equal(mark_compute("whsec_test", &empty, out), 0);
	assert_string_equal(out,
			    "de39375dacf0e4b7618e1cc60ea8fa0750d6091cedb175ec2c55c1b05f83e547");
}

static void mark_verifies_only_the_same_fields_under_the_same_secret(void **state)
{
	static const char other_body[] = "{\"data\":{\"x\":1}}";
	struct mark_input in = input();
	struct mark_input v;

	(void)state;
	assert_true(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &in));
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_other", NULL, 0, &in));
	v = in;
	v.sub = "clinic2";
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &v));
	v = in;
	v.attempts = 4;
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &v));
	v = in;
	v.first_failure_at = "1999-01-01T00:00:00Z";
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &v));
	v = in;
	v.body = other_body;
	v.len = sizeof(other_body) - 1;
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &v));
	v = in;
	v.len--; /* one byte less of the same body */
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_test", NULL, 0, &v));
}

static void malformed_marks_never_verify(void **state)
{
	struct mark_input in = input();
	char upper[MARK_HEX_LEN + 1];
	char flipped[MARK_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i <= MARK_HEX_LEN; i++)
		upper[i] = (char)((want[i] >= 'a' && want[i] <= 'f') ? want[i] - 32 : want[i]);
	memcpy(flipped, want, sizeof(flipped));
	flipped[MARK_HEX_LEN - 1] = flipped[MARK_HEX_LEN - 1] == '2' ? '3' : '2';
	assert_false(mark_verify(NULL, 0, "whsec_test", NULL, 0, &in));
	assert_false(mark_verify("", 0, "whsec_test", NULL, 0, &in));
	assert_false(mark_verify(want, MARK_HEX_LEN - 1, "whsec_test", NULL, 0, &in));
	assert_false(mark_verify(upper, MARK_HEX_LEN, "whsec_test", NULL, 0, &in));
	assert_false(mark_verify(flipped, MARK_HEX_LEN, "whsec_test", NULL, 0, &in));
	/* The webhook signature of the same body is not a mark. */
	assert_false(mark_verify("0000000000000000000000000000000000000000000000000000000000000000",
				 MARK_HEX_LEN, "whsec_test", NULL, 0, &in));
}

static void a_previous_secret_still_verifies_after_a_rotation(void **state)
{
	struct mark_input in = input();
	char *previous[] = {"whsec_older", "whsec_test"};

	(void)state;
	assert_true(mark_verify(want, MARK_HEX_LEN, "whsec_new", previous, 2, &in));
	assert_false(mark_verify(want, MARK_HEX_LEN, "whsec_new", previous, 1, &in));
}

static void missing_inputs_are_refused(void **state)
{
	struct mark_input in = input();
	char out[MARK_HEX_LEN + 1];

	(void)state;
	assert_int_equal(mark_compute(NULL, &in, out), -1);
	in.sub = NULL;
	assert_int_equal(mark_compute("whsec_test", &in, out), -1);
	in = input();
	in.first_failure_at = NULL;
	assert_int_equal(mark_compute("whsec_test", &in, out), -1);
	in = input();
	in.body = NULL;
	assert_int_equal(mark_compute("whsec_test", &in, out), -1);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mark_matches_an_independent_computation),
	    cmocka_unit_test(mark_verifies_only_the_same_fields_under_the_same_secret),
	    cmocka_unit_test(malformed_marks_never_verify),
	    cmocka_unit_test(a_previous_secret_still_verifies_after_a_rotation),
	    cmocka_unit_test(missing_inputs_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
