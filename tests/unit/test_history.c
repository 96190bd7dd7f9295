/* Unit tests for history.c: the attempt record's JSON, the bounded queue
 * in front of the publishing connection, and what `logs` reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/history.h"
#include "hsbridge/utf8.h"

static struct hist_record sample(void)
{
	struct hist_record r = {.ts_ms = 1709029800123LL,
				.sub = "clinic-portal",
				.event = "evt_abc123",
				.delivery = "9f1c0000-0000-5000-8000-000000000001",
				.type = "document.uploaded",
				.attempt = 2,
				.status = 503,
				.ms = 41,
				.outcome = "retry",
				.next = "5m",
				.error = "HTTP 503",
				.response = "{\"error\":\"maintenance\"}",
				.response_len = 23,
				.host = "bridge-1",
				.pid = 4242};
	return r;
}

static char *format(const struct hist_record *r, size_t response_bytes)
{
	char *json = NULL;
	size_t len = 0;

	assert_int_equal(hist_format(r, response_bytes, &json, &len), 0);
	assert_int_equal(strlen(json), len);
	assert_true(utf8_valid(json, len, NULL));
	return json;
}

static void record_has_the_fields_in_order_compact(void **state)
{
	struct hist_record r = sample();
	char *json = format(&r, 256);

	(void)state;
	assert_string_equal(
	    json, "{\"ts\":\"2024-02-27T10:30:00.123Z\",\"sub\":\"clinic-portal\",\"event\":"
		  "\"evt_abc123\",\"delivery\":\"9f1c0000-0000-5000-8000-000000000001\",\"type\":"
		  "\"document.uploaded\",\"attempt\":2,\"status\":503,\"ms\":41,\"outcome\":"
		  "\"retry\",\"next\":\"5m\",\"error\":\"HTTP 503\",\"response\":"
		  "\"{\\\"error\\\":\\\"maintenance\\\"}\",\"bridge\":{\"host\":\"bridge-1\","
		  "\"pid\":4242}}");
	free(json);
}

static void absent_fields_are_null(void **state)
{
	struct hist_record r = sample();
	char *json;

	(void)state;
	r.next = NULL;
	r.error = "";
	r.response = NULL;
	r.response_len = 0;
	json = format(&r, 256);
	assert_non_null(strstr(json, "\"next\":null,\"error\":null,\"response\":null,"));
	free(json);
}

/* The answer is cut at response_bytes; a sequence cut in half, and bytes
 * that are not UTF-8, become U+FFFD; controls (C0, DEL, C1) are escaped;
 * 0 is null. */
static void response_is_cut_and_always_valid_utf8(void **state)
{
	static const struct {
		const char *body;
		size_t n;
		const char *want;
	} cases[] = {
	    {"abcd\xc3\xa9 and more", 5, "\"response\":\"abcd\xef\xbf\xbd\""},
	    {"abcd\xc3\xa9 and more", 6, "\"response\":\"abcd\xc3\xa9\""},
	    {"\xff\xfeok", 256, "\"response\":\"\xef\xbf\xbd\xef\xbf\xbdok\""},
	    {"a\x1b[31mb\n", 256, "\"response\":\"a\\u001b[31mb\\n\""},
	    {"q\"b\\s\x7f\x01\t\r", 256, "\"response\":\"q\\\"b\\\\s\\u007f\\u0001\\t\\r\""},
	    /* C1 controls (an 8-bit CSI, NEL) escaped; the next character, and
	     * U+00A0 (0xC2 0xA0, past C1), pass */
	    {"a\xc2\x9b" "31mb\xc2\x85" "c\xc2\xa0", 256,
	     "\"response\":\"a\\u009b31mb\\u0085c\xc2\xa0\""},
	    {"anything", 0, "\"response\":null"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hist_record r = sample();
		char *json;

		r.response = cases[i].body;
		r.response_len = strlen(cases[i].body);
		json = format(&r, cases[i].n);
		if (!strstr(json, cases[i].want))
			fail_msg("case %zu: %s lacks %s", i, json, cases[i].want);
		free(json);
	}
}

static void queue_is_bounded_by_records_and_bytes_and_fifo(void **state)
{
	struct hist_queue q;

	(void)state;
	assert_int_equal(hist_queue_init(&q, 3, 10), 0);
	assert_true(hist_queue_push(&q, strdup("aaaa"), 4, "s", "delivered"));
	assert_true(hist_queue_push(&q, strdup("bbbb"), 4, "s", "retry"));
	/* 8 + 4 > 10 bytes: refused (and freed) */
	assert_false(hist_queue_push(&q, strdup("cccc"), 4, "s", "retry"));
	assert_true(hist_queue_push(&q, strdup("dd"), 2, "t", "parked"));
	/* 3 records: full */
	assert_false(hist_queue_push(&q, strdup(""), 0, "s", "retry"));
	assert_string_equal(hist_queue_peek(&q)->json, "aaaa");
	assert_string_equal(hist_queue_peek(&q)->outcome, "delivered");
	hist_queue_pop(&q);
	assert_true(hist_queue_push(&q, strdup("ee"), 2, "u", "retry"));
	assert_string_equal(hist_queue_peek(&q)->json, "bbbb");
	hist_queue_pop(&q);
	assert_string_equal(hist_queue_peek(&q)->json, "dd");
	assert_string_equal(hist_queue_peek(&q)->sub, "t");
	hist_queue_pop(&q);
	assert_string_equal(hist_queue_peek(&q)->json, "ee");
	hist_queue_pop(&q);
	assert_null(hist_queue_peek(&q));
	assert_int_equal(q.bytes, 0);
	assert_true(hist_queue_push(&q, strdup("ff"), 2, "s", "retry"));
	hist_queue_free(&q);
}

static void a_record_reads_back_safe_for_a_terminal(void **state)
{
	struct hist_record r = sample();
	struct hist_view *v = malloc(sizeof(*v));
	char *json;

	(void)state;
	r.response = "line1\r\nline2\x1b]0;owned\x07";
	r.response_len = strlen(r.response);
	json = format(&r, 256);
	assert_int_equal(hist_parse(json, strlen(json), v), 0);
	assert_string_equal(v->ts, "2024-02-27T10:30:00.123Z");
	assert_string_equal(v->event, "evt_abc123");
	assert_string_equal(v->type, "document.uploaded");
	assert_int_equal(v->attempt, 2);
	assert_int_equal(v->status, 503);
	assert_int_equal(v->ms, 41);
	assert_string_equal(v->outcome, "retry");
	assert_string_equal(v->next, "5m");
	assert_string_equal(v->response, "line1\\r\\nline2\\x1b]0;owned\\x07");
	assert_int_equal(hist_parse("not json", 8, v), -1);
	assert_int_equal(hist_parse("[1]", 3, v), -1);
	assert_int_equal(hist_parse("{}", 2, v), 0);
	assert_int_equal(v->attempt, -1);
	assert_string_equal(v->event, "");
	free(json);
	free(v);
}

static void since_takes_ages_and_utc_times(void **state)
{
	static const struct {
		const char *text;
		int rc;
		long long want;
	} cases[] = {
	    {"1h", 0, 1000000 - 3600},
	    {"30m", 0, 1000000 - 1800},
	    {"45s", 0, 1000000 - 45},
	    {"7d", 0, 1000000 - 7 * 86400},
	    {"2024-02-27T10:00:00Z", 0, 1709028000},
	    {"2024-02-27T10:00:00", 0, 1709028000},
	    {"2024-02-27T10:00", 0, 1709028000},
	    {"2024-02-27", 0, 1708992000},
	    /* the table's times, with milliseconds, paste back */
	    {"2024-02-27T10:00:00.500Z", 0, 1709028000},
	    {"2024-02-27T10:00:00.5", 0, 1709028000},
	    {"2024-02-27T10:00:00.Z", -1, 0},
	    {"2024-02-27T10:00:00.5x", -1, 0},
	    {"1970-01-01T00:00:00Z", 0, 0},
	    /* before 1970 the stream's timestamp offset cannot say it */
	    {"1969-12-31T23:59:59Z", -1, 0},
	    {"1900-01-01", -1, 0},
	    {"", -1, 0},
	    {"h", -1, 0},
	    {"1", -1, 0},
	    {"1w", -1, 0},
	    {"-1h", -1, 0},
	    {"1hh", -1, 0},
	    {"9999999d", -1, 0},
	    {"2024-02-27T10:00:00+01:00", -1, 0},
	    {"yesterday", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long out = 0;
		int rc = hist_parse_since(cases[i].text, 1000000, &out);

		if (rc != cases[i].rc || (rc == 0 && out != cases[i].want))
			fail_msg("\"%s\": rc %d, %lld", cases[i].text, rc, out);
	}
}

static void table_row_has_the_columns(void **state)
{
	struct hist_view v = {.attempt = 2, .status = 503, .ms = 41};
	char head[256], row[512];

	(void)state;
	snprintf(v.ts, sizeof(v.ts), "2024-02-27T10:30:00.123Z");
	snprintf(v.event, sizeof(v.event), "evt_abc123");
	snprintf(v.type, sizeof(v.type), "document.uploaded");
	snprintf(v.outcome, sizeof(v.outcome), "retry");
	snprintf(v.next, sizeof(v.next), "5m");
	hist_table_header(head, sizeof(head));
	hist_table_row(&v, row, sizeof(row));
	assert_non_null(strstr(head, "TIME"));
	assert_int_equal(strstr(head, "EVENT") - head, strstr(row, "evt_abc123") - row);
	assert_int_equal(strstr(head, "NEXT") - head, strstr(row, "5m") - row);
	v.next[0] = '\0';
	hist_table_row(&v, row, sizeof(row));
	assert_int_equal(strstr(head, "NEXT") - head, strrchr(row, '-') - row);
}

/* --event and --delivery match the stored value, not the display copy
 * (escaped, cut at 127 bytes). */
static void field_is_matches_the_stored_string(void **state)
{
	char id[300];
	char json[400];

	(void)state;
	memset(id, 'L', sizeof(id) - 1);
	memcpy(id, "evt_", 4);
	id[255] = '\0';
	snprintf(json, sizeof(json), "{\"event\":\"%s\",\"n\":1}", id);
	assert_true(hist_field_is(json, strlen(json), "event", id));
	id[200] = '\0';
	assert_false(hist_field_is(json, strlen(json), "event", id));
	snprintf(json, sizeof(json), "{\"event\":\"evt_\\u0085x\"}");
	assert_true(hist_field_is(json, strlen(json), "event", "evt_\xc2\x85x"));
	assert_false(hist_field_is(json, strlen(json), "n", "1"));
	assert_false(hist_field_is(json, strlen(json), "missing", ""));
	assert_false(hist_field_is("not json", 8, "event", "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(record_has_the_fields_in_order_compact),
	    cmocka_unit_test(absent_fields_are_null),
	    cmocka_unit_test(response_is_cut_and_always_valid_utf8),
	    cmocka_unit_test(queue_is_bounded_by_records_and_bytes_and_fifo),
	    cmocka_unit_test(a_record_reads_back_safe_for_a_terminal),
	    cmocka_unit_test(since_takes_ages_and_utc_times),
	    cmocka_unit_test(field_is_matches_the_stored_string),
	    cmocka_unit_test(table_row_has_the_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
