/* Unit tests for copy.c: which headers a copy keeps, which it adds, and the
 * bookkeeping it reads back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hsbridge/broker.h"
#include "hsbridge/copy.h"

static void bookkeeping_headers_are_recognised_by_prefix(void **state)
{
	static const struct {
		const char *key;
		bool bookkeeping;
	} cases[] = {
	    {"x-death", true},
	    {"x-first-death-queue", true},
	    {"x-first-death-reason", true},
	    {"x-last-death-exchange", true},
	    {"x-delivery-count", true},
	    {"hsbridge-attempts", true},
	    {"hsbridge-copy", true},
	    {"hsbridge-anything-new", true},
	    {"x-deathly", true}, /* a prefix match, as RabbitMQ may add x-death* keys */
	    {"hsbridge", false},
	    {"X-Death", false},
	    {"x-deat", false},
	    {"x-first-death", false},
	    {"x-custom", false},
	    {"traceparent", false},
	    {"", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *k = cases[i].key;

		if (copy_header_is_bookkeeping(k, strlen(k)) != cases[i].bookkeeping)
			fail_msg("%s: want %d", k, cases[i].bookkeeping);
	}
	/* By length, not by NUL: a cut-off key is not the prefix. */
	assert_false(copy_header_is_bookkeeping("x-death", 5));
	assert_true(copy_header_is_bookkeeping("hsbridge-x\0junk", 10));
}

static const amqp_field_value_t *header(const amqp_basic_properties_t *p, const char *key)
{
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == strlen(key) && memcmp(e->key.bytes, key, e->key.len) == 0)
			return &e->value;
	}
	return NULL;
}

static void assert_str_header(const amqp_basic_properties_t *p, const char *key, const char *want)
{
	const amqp_field_value_t *v = header(p, key);

	if (!v)
		fail_msg("header %s missing", key);
	assert_int_equal(v->kind, AMQP_FIELD_KIND_UTF8);
	assert_int_equal(v->value.bytes.len, strlen(want));
	assert_memory_equal(v->value.bytes.bytes, want, strlen(want));
}

static void assert_int_header(const amqp_basic_properties_t *p, const char *key, int64_t want)
{
	const amqp_field_value_t *v = header(p, key);

	if (!v)
		fail_msg("header %s missing", key);
	assert_int_equal(v->kind, AMQP_FIELD_KIND_I64);
	assert_int_equal(v->value.i64, want);
}

/* An original as a publisher sends it, after one failed attempt. */
struct original {
	amqp_table_entry_t h[6];
	amqp_basic_properties_t p;
};

static void make_original(struct original *o, const char *first_failure_at)
{
	int n = 0;

	memset(o, 0, sizeof(*o));
	o->h[n++] = brk_entry_str("traceparent", "00-abc-def-01");
	o->h[n++] = brk_entry_str("x-death", "stand-in");
	o->h[n++] = brk_entry_i64("x-delivery-count", 2);
	o->h[n++] = brk_entry_i64("hsbridge-attempts", 1);
	if (first_failure_at)
		o->h[n++] = brk_entry_str("hsbridge-first-failure-at", first_failure_at);
	o->h[n++] = brk_entry_str("tenant", "t1");
	o->p._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG |
		      AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_USER_ID_FLAG |
		      AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_APP_ID_FLAG |
		      AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	o->p.content_type = amqp_cstring_bytes("application/json");
	o->p.expiration = amqp_cstring_bytes("60000");
	o->p.user_id = amqp_cstring_bytes("svc");
	o->p.correlation_id = amqp_cstring_bytes("corr-1");
	o->p.app_id = amqp_cstring_bytes("docs");
	o->p.timestamp = 1709029800;
	o->p.delivery_mode = 1;
	o->p.headers.num_entries = n;
	o->p.headers.entries = o->h;
}

static void retry_copy_keeps_properties_and_adds_attempt_marks(void **state)
{
	struct original o;
	struct copy_marks m = {.attempts = 2,
			       .last_status = 503,
			       .last_error = "HTTP 503",
			       .now = "2024-02-27T10:31:00Z",
			       .seq = 7,
			       .type = "document.uploaded",
			       .message_id = "evt_abc123",
			       .first_failure_at = "2024-02-27T10:30:00Z",
			       .mark = "m"};
	struct copy_props c;
	const amqp_basic_properties_t *p = &c.p;

	(void)state;
	make_original(&o, "2024-02-27T10:30:00Z");
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	/* Kept: content type, correlation id, app id, timestamp. */
	assert_true(p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG);
	assert_true(p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG);
	assert_true(p->_flags & AMQP_BASIC_APP_ID_FLAG);
	assert_true(p->_flags & AMQP_BASIC_TIMESTAMP_FLAG);
	assert_int_equal(p->timestamp, 1709029800);
	/* Dropped: what could lose the copy or make the broker refuse it. */
	assert_false(p->_flags & AMQP_BASIC_EXPIRATION_FLAG);
	assert_false(p->_flags & AMQP_BASIC_USER_ID_FLAG);
	/* Persistent, and the envelope's type and id ride along. */
	assert_int_equal(p->delivery_mode, AMQP_DELIVERY_PERSISTENT);
	assert_true(p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
	assert_memory_equal(p->type.bytes, "document.uploaded", p->type.len);
	assert_memory_equal(p->message_id.bytes, "evt_abc123", p->message_id.len);
	/* The publisher's headers stay; the old bookkeeping goes. */
	assert_str_header(p, "traceparent", "00-abc-def-01");
	assert_str_header(p, "tenant", "t1");
	assert_null(header(p, "x-death"));
	assert_null(header(p, "x-delivery-count"));
	/* The marks, once each; first-failure-at as the marks say (the
	 * original's own header is not trusted here: the relay decides). */
	assert_str_header(p, "hsbridge-mark", "m");
	assert_int_header(p, "hsbridge-attempts", 2);
	assert_str_header(p, "hsbridge-first-failure-at", "2024-02-27T10:30:00Z");
	assert_int_header(p, "hsbridge-last-status", 503);
	assert_str_header(p, "hsbridge-last-error", "HTTP 503");
	assert_int_header(p, "hsbridge-copy", 7);
	assert_null(header(p, "hsbridge-parked-reason"));
	assert_int_equal(p->headers.num_entries, 8);
	copy_props_free(&c);
}

static void first_failure_starts_now_on_the_first_copy(void **state)
{
	struct original o;
	struct copy_marks m = {.attempts = 1, .last_status = 0, .now = "2024-02-27T10:30:05Z"};
	struct copy_props c;

	(void)state;
	make_original(&o, NULL);
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_str_header(&c.p, "hsbridge-first-failure-at", "2024-02-27T10:30:05Z");
	/* No error text: the header is there, empty. */
	assert_str_header(&c.p, "hsbridge-last-error", "");
	copy_props_free(&c);
}

static void parked_copy_says_why_and_when(void **state)
{
	struct original o;
	struct copy_marks m = {.attempts = 5,
			       .last_status = 500,
			       .last_error = "HTTP 500",
			       .reason = "retries_exhausted",
			       .now = "2024-02-27T12:00:00Z",
			       .seq = 1,
			       .first_failure_at = "2024-02-27T10:30:00Z"};
	struct copy_props c;

	(void)state;
	make_original(&o, "2024-02-27T10:30:00Z");
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_str_header(&c.p, "hsbridge-parked-reason", "retries_exhausted");
	assert_str_header(&c.p, "hsbridge-parked-at", "2024-02-27T12:00:00Z");
	assert_str_header(&c.p, "hsbridge-first-failure-at", "2024-02-27T10:30:00Z");
	assert_int_header(&c.p, "hsbridge-attempts", 5);
	/* The original's message_id stays absent without an override. */
	assert_false(c.p._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
	copy_props_free(&c);
}

static void invalid_payload_copy_has_reason_and_error_but_no_attempts(void **state)
{
	struct original o;
	struct copy_marks m = {.last_error = "not a JSON object",
			       .reason = "invalid_payload",
			       .now = "2024-02-27T12:00:00Z",
			       .seq = 3};
	struct copy_props c;

	(void)state;
	make_original(&o, NULL);
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_str_header(&c.p, "hsbridge-last-error", "not a JSON object");
	assert_str_header(&c.p, "hsbridge-parked-reason", "invalid_payload");
	assert_null(header(&c.p, "hsbridge-attempts"));
	assert_null(header(&c.p, "hsbridge-first-failure-at"));
	assert_null(header(&c.p, "hsbridge-last-status"));
	copy_props_free(&c);
}

/* replay: no marks at all, attempts start over. */
static void replayed_copy_carries_no_bookkeeping(void **state)
{
	struct original o;
	const struct copy_marks none = {0};
	struct copy_props c;

	(void)state;
	make_original(&o, "2024-02-27T10:30:00Z");
	assert_int_equal(copy_build(&o.p, &none, &c), 0);
	assert_int_equal(c.p.headers.num_entries, 2);
	assert_str_header(&c.p, "traceparent", "00-abc-def-01");
	assert_str_header(&c.p, "tenant", "t1");
	assert_false(c.p._flags & AMQP_BASIC_EXPIRATION_FLAG);
	assert_int_equal(c.p.delivery_mode, AMQP_DELIVERY_PERSISTENT);
	copy_props_free(&c);
}

/* An original message_id wins over the envelope's: it is the envelope's. */
static void original_message_id_is_kept(void **state)
{
	struct original o;
	struct copy_marks m = {.message_id = "evt_other", .now = "x"};
	struct copy_props c;

	(void)state;
	make_original(&o, NULL);
	o.p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
	o.p.message_id = amqp_cstring_bytes("evt_abc123");
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_int_equal(c.p.message_id.len, strlen("evt_abc123"));
	assert_memory_equal(c.p.message_id.bytes, "evt_abc123", c.p.message_id.len);
	copy_props_free(&c);
}

static void original_without_headers_gets_only_the_marks(void **state)
{
	amqp_basic_properties_t orig;
	struct copy_marks m = {.attempts = 1, .last_status = 404, .now = "t", .seq = 9};
	struct copy_props c;

	(void)state;
	memset(&orig, 0, sizeof(orig));
	assert_int_equal(copy_build(&orig, &m, &c), 0);
	assert_true(c.p._flags & AMQP_BASIC_HEADERS_FLAG);
	assert_int_equal(c.p.headers.num_entries, 5);
	assert_int_header(&c.p, "hsbridge-last-status", 404);
	copy_props_free(&c);
}

static amqp_basic_properties_t one_header(amqp_table_entry_t *e)
{
	amqp_basic_properties_t p;

	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.num_entries = 1;
	p.headers.entries = e;
	return p;
}

/* Every AMQP integer kind is read; negatives are 0; large values clamp. */
static void header_uint_reads_every_integer_kind(void **state)
{
	static const struct {
		uint8_t kind;
		int64_t value;
		unsigned long long want;
	} cases[] = {
	    {AMQP_FIELD_KIND_I8, -5, 0},       {AMQP_FIELD_KIND_I8, 7, 7},
	    {AMQP_FIELD_KIND_U8, 200, 200},    {AMQP_FIELD_KIND_I16, -300, 0},
	    {AMQP_FIELD_KIND_I16, 300, 300},   {AMQP_FIELD_KIND_U16, 60000, 1000},
	    {AMQP_FIELD_KIND_I32, 999, 999},   {AMQP_FIELD_KIND_U32, 4000000000LL, 1000},
	    {AMQP_FIELD_KIND_I64, -1, 0},      {AMQP_FIELD_KIND_I64, 1000, 1000},
	    {AMQP_FIELD_KIND_I64, 1001, 1000},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		amqp_table_entry_t e = {.key = amqp_cstring_bytes("n")};
		amqp_basic_properties_t p = one_header(&e);

		e.value.kind = cases[i].kind;
		switch (cases[i].kind) {
		case AMQP_FIELD_KIND_I8:
			e.value.value.i8 = (int8_t)cases[i].value;
			break;
		case AMQP_FIELD_KIND_U8:
			e.value.value.u8 = (uint8_t)cases[i].value;
			break;
		case AMQP_FIELD_KIND_I16:
			e.value.value.i16 = (int16_t)cases[i].value;
			break;
		case AMQP_FIELD_KIND_U16:
			e.value.value.u16 = (uint16_t)cases[i].value;
			break;
		case AMQP_FIELD_KIND_I32:
			e.value.value.i32 = (int32_t)cases[i].value;
			break;
		case AMQP_FIELD_KIND_U32:
			e.value.value.u32 = (uint32_t)cases[i].value;
			break;
		default:
			e.value.value.i64 = cases[i].value;
			break;
		}
		if (copy_header_uint(&p, "n", 1000) != cases[i].want)
			fail_msg("case %zu: got %llu, want %llu", i,
				 copy_header_uint(&p, "n", 1000), cases[i].want);
	}
}

static void header_uint_of_other_kinds_or_absent_is_zero(void **state)
{
	amqp_table_entry_t s = brk_entry_str("hsbridge-attempts", "3");
	amqp_table_entry_t big = {.key = amqp_cstring_bytes("hsbridge-copy")};
	amqp_basic_properties_t p = one_header(&s);
	amqp_basic_properties_t none;

	(void)state;
	memset(&none, 0, sizeof(none));
	assert_int_equal(copy_attempts(&p), 0);
	assert_int_equal(copy_attempts(&none), 0);
	assert_int_equal(copy_header_uint(&p, "absent", 10), 0);
	big.value.kind = AMQP_FIELD_KIND_U64;
	big.value.value.u64 = UINT64_MAX;
	p = one_header(&big);
	assert_true(copy_header_uint(&p, "hsbridge-copy", UINT64_MAX) == UINT64_MAX);
	assert_int_equal(copy_header_uint(&p, "hsbridge-copy", 5), 5);
}

static void attempts_are_read_back_from_a_built_copy(void **state)
{
	struct original o;
	struct copy_marks m = {.attempts = 4, .now = "t"};
	struct copy_props c;

	(void)state;
	make_original(&o, NULL);
	assert_int_equal(copy_attempts(&o.p), 1);
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_int_equal(copy_attempts(&c.p), 4);
	copy_props_free(&c);
}

static void dropped_headers_leave_only_the_marks(void **state)
{
	struct original o;
	struct copy_marks m = {.attempts = 1,
			       .last_error = "headers dropped",
			       .reason = "payload_too_large",
			       .now = "2024-02-27T10:30:05Z",
			       .drop_headers = true};
	struct copy_props c;

	(void)state;
	make_original(&o, "2024-02-27T10:30:00Z");
	assert_int_equal(copy_build(&o.p, &m, &c), 0);
	assert_null(header(&c.p, "traceparent"));
	assert_null(header(&c.p, "tenant"));
	assert_str_header(&c.p, "hsbridge-last-error", "headers dropped");
	assert_str_header(&c.p, "hsbridge-parked-reason", "payload_too_large");
	/* No first-failure-at in the marks: the copy's own first failure is now. */
	assert_str_header(&c.p, "hsbridge-first-failure-at", "2024-02-27T10:30:05Z");
	/* The properties stay. */
	assert_true(c.p._flags & AMQP_BASIC_CORRELATION_ID_FLAG);
	copy_props_free(&c);
}

static void bookkeeping_readers(void **state)
{
	struct original o;
	char buf[64];
	const char *s = NULL;
	size_t len = 0;
	amqp_table_entry_t h[2];
	amqp_basic_properties_t p;

	(void)state;
	make_original(&o, "2024-02-27T10:30:00Z");
	assert_true(copy_has_bookkeeping(&o.p));
	assert_true(copy_first_failure_at(&o.p, buf, sizeof(buf)));
	assert_string_equal(buf, "2024-02-27T10:30:00Z");
	/* Too long for the buffer: refused, never cut. */
	assert_false(copy_first_failure_at(&o.p, buf, 20));
	assert_string_equal(buf, "");
	assert_true(copy_header_text(&o.p, "tenant", &s, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(s, "t1", 2);
	assert_false(copy_header_text(&o.p, "hsbridge-attempts", &s, &len)); /* an integer */
	assert_false(copy_header_text(&o.p, "absent", &s, &len));

	/* x-death alone is not the bridge's bookkeeping; a wrong-kind
	 * first-failure-at is no time. */
	memset(&p, 0, sizeof(p));
	h[0] = brk_entry_str("x-death", "stand-in");
	h[1] = brk_entry_i64("hsbridge-first-failure-at", 1);
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.entries = h;
	p.headers.num_entries = 1;
	assert_false(copy_has_bookkeeping(&p));
	p.headers.num_entries = 2;
	assert_true(copy_has_bookkeeping(&p));
	assert_false(copy_first_failure_at(&p, buf, sizeof(buf)));
	p._flags = 0;
	assert_false(copy_has_bookkeeping(&p));
	assert_false(copy_first_failure_at(&p, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bookkeeping_headers_are_recognised_by_prefix),
	    cmocka_unit_test(retry_copy_keeps_properties_and_adds_attempt_marks),
	    cmocka_unit_test(first_failure_starts_now_on_the_first_copy),
	    cmocka_unit_test(parked_copy_says_why_and_when),
	    cmocka_unit_test(invalid_payload_copy_has_reason_and_error_but_no_attempts),
	    cmocka_unit_test(replayed_copy_carries_no_bookkeeping),
	    cmocka_unit_test(original_message_id_is_kept),
	    cmocka_unit_test(original_without_headers_gets_only_the_marks),
	    cmocka_unit_test(header_uint_reads_every_integer_kind),
	    cmocka_unit_test(header_uint_of_other_kinds_or_absent_is_zero),
	    cmocka_unit_test(attempts_are_read_back_from_a_built_copy),
	    cmocka_unit_test(dropped_headers_leave_only_the_marks),
	    cmocka_unit_test(bookkeeping_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
