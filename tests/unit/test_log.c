/* Unit tests for log.c: the generator is reused from line to line and
 * integers are formatted without yajl_gen_integer, so every line must still
 * be one whole JSON object of its own with the integers exact, including
 * the extremes. stderr is pointed at a temporary file and read back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hsbridge/log.h"

static char text[16384];

/* Runs emit with stderr in a temporary file; leaves what it wrote in text. */
static void capture(void (*emit)(void))
{
	FILE *tmp = tmpfile();
	int saved = dup(fileno(stderr));
	size_t got;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), fileno(stderr)) >= 0);
	emit();
	fflush(stderr);
	assert_true(dup2(saved, fileno(stderr)) >= 0);
	close(saved);
	rewind(tmp);
	got = fread(text, 1, sizeof(text) - 1, tmp);
	text[got] = '\0';
	fclose(tmp);
}

static void emit_integers(void)
{
	static const long long v[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
	char key[8];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		log_emit(LOGL_INFO, "n", (struct log_field[]){LOG_I(key, v[i])}, 1);
	}
}

static void every_line_is_its_own_object_with_exact_integers(void **state)
{
	static const char *const want[] = {
	    "\"k0\":0}\n", "\"k1\":1}\n", "\"k2\":-1}\n", "\"k3\":9}\n", "\"k4\":10}\n",
	    "\"k5\":-10}\n", "\"k6\":1234567890123}\n", "\"k7\":9223372036854775807}\n",
	    "\"k8\":-9223372036854775808}\n"};
	const char *line = text;

	(void)state;
	log_set_level(LOGL_INFO);
	capture(emit_integers);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *end = strchr(line, '\n');
		size_t wl = strlen(want[i]);

		assert_non_null(end);
		assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
		assert_true(strstr(line, "\"level\":\"info\",\"msg\":\"n\",") < end);
		assert_true((size_t)(end + 1 - line) >= wl);
		assert_memory_equal(end + 1 - wl, want[i], wl);
		line = end + 1;
	}
	assert_string_equal(line, "");
}

static void emit_mixed(void)
{
	log_emit(LOGL_WARN, "a\"b", (struct log_field[]){LOG_S("s", "x\xff")}, 1);
	log_emit(LOGL_DEBUG, "hidden", NULL, 0);
	log_emit(LOGL_ERROR, "c", (struct log_field[]){LOG_S("s", NULL), LOG_I("i", 7)}, 2);
}

static void lines_after_a_reset_start_fresh_and_skipped_levels_write_nothing(void **state)
{
	char *second;

	(void)state;
	log_set_level(LOGL_INFO);
	capture(emit_mixed);
	second = strchr(text, '\n');
	assert_non_null(second);
	second++;
	assert_non_null(strstr(text, "\"level\":\"warn\",\"msg\":\"a\\\"b\",\"s\":\"x\xef\xbf\xbd\"}\n"));
	assert_true(strncmp(second, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(second, "\"level\":\"error\",\"msg\":\"c\",\"i\":7}\n"));
	assert_null(strstr(text, "hidden"));
	assert_int_equal(strchr(second, '\n')[1], '\0');
}

static void timestamps_have_their_fixed_shape(void **state)
{
	char ts[40];

	(void)state;
	for (int i = 0; i < 3; i++) {
		log_timestamp(ts, sizeof(ts));
		assert_int_equal(strlen(ts), 24);
		assert_int_equal(ts[4], '-');
		assert_int_equal(ts[10], 'T');
		assert_int_equal(ts[19], '.');
		assert_int_equal(ts[23], 'Z');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_line_is_its_own_object_with_exact_integers),
	    cmocka_unit_test(lines_after_a_reset_start_fresh_and_skipped_levels_write_nothing),
	    cmocka_unit_test(timestamps_have_their_fixed_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
