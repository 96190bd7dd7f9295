/* Unit tests for dispatch.c's pure part: the Retry-After value parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hsbridge/dispatch.h"

/* 2026-01-01T00:00:00Z */
#define NOW 1767225600LL

static void retry_after_reads_seconds_or_a_date_else_nothing(void **state)
{
	static const struct {
		const char *value;
		long want;
	} cases[] = {
	    {" 120\r\n", 120},
	    {"0", 0},
	    {"\t7 \t", 7},
	    {"86400", 86400},
	    {"86401", 86400},			/* capped at a day */
	    {"99999999999999999999999", 86400}, /* past any integer: still a day */
	    {"Thu, 01 Jan 2026 00:00:30 GMT", 30},
	    {"Thursday, 01-Jan-26 00:01:00 GMT", 60},
	    {"Fri, 31 Dec 2099 23:59:59 GMT", 86400},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", -1}, /* already past */
	    {"soon", -1},			   /* neither: no Retry-After */
	    {"-5", -1},
	    {"5 seconds", -1},
	    {"1.5", -1},
	    {"", -1},
	    {" \r\n", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = disp_retry_after_s(cases[i].value, strlen(cases[i].value), NOW);

		if (got != cases[i].want)
			fail_msg("\"%s\": got %ld, want %ld", cases[i].value, got, cases[i].want);
	}
	/* By length: what follows is no part of the value, a NUL in it spoils it. */
	assert_int_equal(disp_retry_after_s("12345", 2, NOW), 12);
	assert_int_equal(disp_retry_after_s("Thu, 01 Jan 2026 00:00:30 GMT\0x", 31, NOW), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(retry_after_reads_seconds_or_a_date_else_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
