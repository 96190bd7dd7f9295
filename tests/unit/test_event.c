/* Unit tests for event.c: envelope validation and completion, delivery ids,
 * topic patterns, event ids and timestamps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/event.h"
#include "hsbridge/utf8.h"

#define NOW 1709029800LL /* 2024-02-27T10:30:00Z */

static struct ev_input input(const char *body)
{
	struct ev_input in = {0};

	in.body = body;
	in.len = strlen(body);
	in.max_body = 1048576;
	in.now = NOW;
	return in;
}

static void expect_invalid(const char *body, const char *reason)
{
	struct ev_input in = input(body);
	struct ev_event ev;

	in.message_id = "evt_prop";
	in.routing_key = "document.uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	if (reason != NULL)
		assert_string_equal(ev.reason, reason);
	assert_null(ev.body);
	assert_null(ev.id);
	assert_null(ev.type);
	ev_free(&ev);
}

/* Prepares body with the given properties and checks the rewritten output. */
static void expect_rewrite(struct ev_input in, const char *want, const char *want_id,
			   const char *want_type)
{
	struct ev_event ev;

	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_true(ev.rewritten);
	assert_int_equal(ev.len, strlen(want));
	assert_memory_equal(ev.body, want, ev.len);
	assert_string_equal(ev.id, want_id);
	assert_string_equal(ev.type, want_type);
	ev_free(&ev);
}

static void complete_envelope_passes_byte_for_byte(void **state)
{
	/* Odd spacing, key order and escapes must all survive untouched. */
	static const char body[] = "{ \"data\" : {\"n\": 1.50, \"s\": \"\\u00e9\\/\"},\n"
				   "\t\"created_at\":\"2024-02-27T10:30:00Z\",  \"type\":"
				   "\"document.uploaded\", \"id\": \"evt_abc123\" }  ";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.message_id = "evt_other";
	in.type_prop = "share.created";
	in.timestamp = 1;
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_false(ev.rewritten);
	assert_int_equal(ev.len, strlen(body));
	assert_memory_equal(ev.body, body, ev.len);
	assert_ptr_not_equal(ev.body, body);
	assert_string_equal(ev.id, "evt_abc123");
	assert_string_equal(ev.type, "document.uploaded");
	assert_string_equal(ev.reason, "");
	ev_free(&ev);
}

static void too_large_body_names_both_sizes(void **state)
{
	char *big = malloc(2000000);
	struct ev_input in = {0};
	struct ev_event ev;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', 2000000);
	in.body = big;
	in.len = 2000000;
	in.max_body = 1048576;
	assert_int_equal(ev_prepare(&in, &ev), EV_TOO_LARGE);
	assert_string_equal(ev.reason, "body is 2000000 bytes, limit 1048576");
	assert_null(ev.body);
	ev_free(&ev);
	free(big);
}

static void body_at_limit_or_without_limit_is_accepted(void **state)
{
	static const char body[] =
	    "{\"id\":\"e\",\"type\":\"t\",\"created_at\":\"2024-01-01T00:00:00Z\",\"data\":{}}";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.max_body = in.len;
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	ev_free(&ev);
	in.max_body = in.len - 1;
	assert_int_equal(ev_prepare(&in, &ev), EV_TOO_LARGE);
	ev_free(&ev);
	in.max_body = 0;
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	ev_free(&ev);
}

static void invalid_json_is_rejected(void **state)
{
	(void)state;
	expect_invalid("", "body is not valid JSON");
	expect_invalid("   ", "body is not valid JSON");
	expect_invalid("{", "body is not valid JSON");
	expect_invalid("{\"data\":{}", "body is not valid JSON");
	expect_invalid("{\"data\":{},}", "body is not valid JSON");
	expect_invalid("{\"data\":{}} {}", "body is not valid JSON");
	expect_invalid("{\"data\":{}} x", "body is not valid JSON");
	expect_invalid("{'data':{}}", "body is not valid JSON");
	/* Comments are not JSON, whatever yajl_tree would allow. */
	expect_invalid("{/* c */\"data\":{}}", "body is not valid JSON");
	/* Invalid UTF-8 inside a string. */
	expect_invalid("{\"data\":{\"s\":\"\xff\xfe\"}}",
		       "body is not valid UTF-8 JSON: bytes that are not UTF-8 at byte 14");
	expect_invalid("{\"data\":{\"n\":01}}", "body is not valid JSON");
}

/* RFC 8259 section 8.2: yajl alone let each of these through. */
/* An envelope type that contradicts its routing key is parked: the
 * subscriptions were chosen by the routing key. */
static void envelope_type_must_equal_the_routing_key(void **state)
{
	static const char body[] = "{\"id\":\"evt_1\",\"type\":\"share.created\",\"created_at\":"
				   "\"2024-02-27T10:30:00Z\",\"data\":{}}";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.routing_key = "document.uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "envelope type contradicts the routing key (publish each "
				       "event with routing key = its type)");
	in.routing_key = "share.created\xf2";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "routing key is not valid UTF-8");
	/* Incomplete envelopes too. */
	in = input("{\"type\":\"share.created\",\"data\":{}}");
	in.routing_key = "share.expired";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	in.routing_key = "share.created";
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	ev_free(&ev);
	/* A type filled in from the type property must agree as well. */
	in = input("{\"data\":{}}");
	in.type_prop = "share.revoked";
	in.routing_key = "document.uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "type property contradicts the routing key (publish each "
				       "event with routing key = its type)");
	in.type_prop = "document.uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_string_equal(ev.type, "document.uploaded");
	ev_free(&ev);
	/* No routing key (a copy back from a retry queue): nothing to contradict. */
	in = input(body);
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_string_equal(ev.type, "share.created");
	ev_free(&ev);
}

static void body_that_is_not_utf8_json_is_rejected(void **state)
{
	static const char bad_bytes[] = "body is not valid UTF-8 JSON: bytes that are not UTF-8";
	static const char lone[] = "body is not valid UTF-8 JSON: a \\u escape of a lone surrogate";
	static const struct {
		const char *body;
		const char *reason;
	} cases[] = {
	    {"{\"data\":{\"s\":\"\xc0\xaf\"}}", bad_bytes},	       /* overlong '/' */
	    {"{\"data\":{\"s\":\"\xe0\x80\xaf\"}}", bad_bytes},     /* overlong, 3 bytes */
	    {"{\"data\":{\"s\":\"\xed\xa0\x80\"}}", bad_bytes},     /* U+D800 as bytes */
	    {"{\"data\":{\"s\":\"\xf4\x90\x80\x80\"}}", bad_bytes}, /* U+110000 */
	    {"{\"data\":{\"s\":\"\xf2\"}}", bad_bytes},		       /* truncated */
	    {"{\"data\":{\"\xf2\":1}}", bad_bytes},			       /* in a key */
	    {"{\"data\":{\"s\":\"\\ud800\"}}", lone},
	    {"{\"data\":{\"s\":\"\\udc00\"}}", lone},
	    {"{\"data\":{\"s\":\"\\ud800\\u0041\"}}", lone},
	    {"{\"data\":{\"s\":\"\\uD800x\"}}", lone},
	    {"{\"data\":{\"\\udfff\":1}}", lone},
	    {"{\"id\":\"evt_\\ud800\",\"data\":{}}", lone},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ev_input in = input(cases[i].body);
		struct ev_event ev;

		in.routing_key = "document.uploaded";
		assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
		assert_non_null(strstr(ev.reason, cases[i].reason));
		ev_free(&ev);
	}
}

static void surrogate_pairs_and_raw_utf8_pass(void **state)
{
	static const char body[] = "{\"id\":\"evt_1\",\"data\":{\"e\":\"\\ud83d\\ude00\",\"r\":"
				   "\"\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbd\"}}";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.routing_key = "document.uploaded";
	/* Rewritten (no type, no created_at): the pair becomes raw UTF-8. */
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_true(ev.rewritten);
	assert_non_null(strstr(ev.body, "\"e\":\"\xf0\x9f\x98\x80\""));
	assert_true(utf8_valid(ev.body, ev.len, NULL));
	ev_free(&ev);
}

static void fallback_properties_must_be_utf8(void **state)
{
	static const char body[] = "{\"data\":{}}";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.type_prop = "document.\xf2uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "type property is not valid UTF-8");
	in = input(body);
	in.routing_key = "document.uploaded\xc0\xaf";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "routing key is not valid UTF-8");
	in = input(body);
	in.routing_key = "document.uploaded";
	in.message_id = "evt_\xed\xa0\x80";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "message_id is not valid UTF-8");
	/* Valid non-ASCII UTF-8 is fine. */
	in.message_id = "evt_\xc3\xa9";
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_string_equal(ev.id, "evt_\xc3\xa9");
	ev_free(&ev);
}

static void body_with_nul_byte_is_rejected(void **state)
{
	static const char body[] = "{\"data\":{}}\0";
	struct ev_input in = input(body);
	struct ev_event ev;

	(void)state;
	in.len = sizeof(body) - 1;
	in.routing_key = "document.uploaded";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "body contains a NUL byte");
	ev_free(&ev);
}

static void non_object_is_rejected(void **state)
{
	(void)state;
	expect_invalid("[]", "body is not a JSON object");
	expect_invalid("[{\"data\":{}}]", "body is not a JSON object");
	expect_invalid("\"data\"", "body is not a JSON object");
	expect_invalid("42", "body is not a JSON object");
	expect_invalid("null", "body is not a JSON object");
	expect_invalid("true", "body is not a JSON object");
}

static void envelope_without_data_object_is_rejected(void **state)
{
	(void)state;
	expect_invalid("{}", "envelope has no data object");
	expect_invalid("{\"id\":\"e\",\"type\":\"t\",\"created_at\":\"c\"}",
		       "envelope has no data object");
	expect_invalid("{\"data\":[]}", "envelope has no data object");
	expect_invalid("{\"data\":null}", "envelope has no data object");
	expect_invalid("{\"data\":\"{}\"}", "envelope has no data object");
	expect_invalid("{\"data\":1}", "envelope has no data object");
	/* Only a top-level "data" counts. */
	expect_invalid("{\"x\":{\"data\":{}}}", "envelope has no data object");
	expect_invalid("{\"Data\":{}}", "envelope has no data object");
}

static void bad_id_type_created_at_are_rejected(void **state)
{
	static const char *const bad[] = {
	    "{\"id\":1,\"data\":{}}",
	    "{\"id\":\"\",\"data\":{}}",
	    "{\"id\":null,\"data\":{}}",
	    "{\"id\":{},\"data\":{}}",
	    "{\"id\":[\"a\"],\"data\":{}}",
	    "{\"type\":true,\"data\":{}}",
	    "{\"type\":\"\",\"data\":{}}",
	    "{\"created_at\":1709029800,\"data\":{}}",
	    "{\"created_at\":\"\",\"data\":{}}",
	    /* These end up in HTTP headers: a CR or LF would split one. */
	    "{\"type\":\"a\\r\\nX-Evil: 1\",\"data\":{}}",
	    "{\"id\":\"a\\u0000b\",\"data\":{}}",
	    "{\"id\":\"tab\\there\",\"data\":{}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid(bad[i], NULL);
	expect_invalid("{\"id\":1,\"data\":{}}",
		       "envelope id must be a string of 1 to 255 bytes without control characters");
	expect_invalid("{\"created_at\":\"\",\"data\":{}}",
		       "envelope created_at must be a string of 1 to 255 bytes without control "
		       "characters");
}

static void overlong_id_is_rejected(void **state)
{
	char body[400];
	char id[257];

	(void)state;
	memset(id, 'a', 256);
	id[256] = '\0';
	assert_true(snprintf(body, sizeof(body), "{\"id\":\"%s\",\"data\":{}}", id) <
		    (int)sizeof(body));
	expect_invalid(body, NULL);
	id[255] = '\0';
	assert_true(snprintf(body, sizeof(body),
			     "{\"id\":\"%s\",\"type\":\"t\",\"created_at\":\"c\",\"data\":{}}",
			     id) < (int)sizeof(body));
	{
		struct ev_input in = input(body);
		struct ev_event ev;

		assert_int_equal(ev_prepare(&in, &ev), EV_OK);
		assert_string_equal(ev.id, id);
		ev_free(&ev);
	}
}

static void duplicate_envelope_keys_are_rejected(void **state)
{
	(void)state;
	expect_invalid("{\"id\":\"a\",\"id\":\"b\",\"data\":{}}",
		       "envelope has more than one \"id\"");
	expect_invalid("{\"type\":\"a\",\"data\":{},\"type\":\"a\"}",
		       "envelope has more than one \"type\"");
	expect_invalid("{\"created_at\":\"a\",\"created_at\":\"b\",\"data\":{}}",
		       "envelope has more than one \"created_at\"");
	expect_invalid("{\"data\":{},\"data\":{}}", "envelope has more than one \"data\"");
}

static void duplicate_keys_elsewhere_are_kept(void **state)
{
	struct ev_input in = input("{\"data\":{\"k\":1,\"k\":2},\"x\":\"a\",\"x\":\"b\"}");

	(void)state;
	in.message_id = "evt_1";
	in.routing_key = "user.updated";
	expect_rewrite(
	    in,
	    "{\"id\":\"evt_1\",\"type\":\"user.updated\",\"created_at\":"
	    "\"2024-02-27T10:30:00Z\",\"data\":{\"k\":1,\"k\":2},\"x\":\"a\",\"x\":\"b\"}",
	    "evt_1", "user.updated");
}

static void rewrite_preserves_numbers_strings_and_order(void **state)
{
	struct ev_input in = input(
	    "{\"data\":{\"n\":12345678901234567890123,\"f\":1.0e+400,\"z\":-0.0,\"e\":1E2,"
	    "\"s\":\"caf\\u00e9 \\/ \\\"q\\\" \\\\ \\t \\u0000 end\",\"a\":[true,false,null,{},"
	    "[]],\"o\":{}},\"zeta\":[1,2.5],\"alpha\":null}");

	(void)state;
	in.message_id = "evt_fromprop";
	in.type_prop = "document.uploaded";
	in.routing_key = "document.uploaded";
	in.timestamp = 1709029800;
	in.now = 1;
	expect_rewrite(
	    in,
	    "{\"id\":\"evt_fromprop\",\"type\":\"document.uploaded\",\"created_at\":"
	    "\"2024-02-27T10:30:00Z\",\"data\":{\"n\":12345678901234567890123,"
	    "\"f\":1.0e+400,\"z\":-0.0,\"e\":1E2,\"s\":\"caf\xc3\xa9 / \\\"q\\\" \\\\ \\t "
	    "\\u0000 end\",\"a\":[true,false,null,{},[]],\"o\":{}},\"zeta\":[1,2.5],"
	    "\"alpha\":null}",
	    "evt_fromprop", "document.uploaded");
}

static void envelope_fields_win_over_properties(void **state)
{
	/* type present, id and created_at missing: envelope type is kept and
	 * moves to the front with the filled-in fields. */
	struct ev_input in = input("{\"a\":1,\"data\":{},\"type\":\"analysis.failed\"}");

	(void)state;
	in.message_id = "evt_m";
	in.type_prop = "document.uploaded";
	in.routing_key = NULL; /* as on a copy back from a retry queue */
	in.timestamp = 1709029800;
	expect_rewrite(in,
		       "{\"id\":\"evt_m\",\"type\":\"analysis.failed\",\"created_at\":"
		       "\"2024-02-27T10:30:00Z\",\"a\":1,\"data\":{}}",
		       "evt_m", "analysis.failed");

	in = input("{\"created_at\":\"2020-01-01T00:00:00Z\",\"id\":\"evt_env\",\"data\":{}}");
	in.message_id = "evt_m";
	in.routing_key = "share.created";
	in.timestamp = 1709029800;
	expect_rewrite(in,
		       "{\"id\":\"evt_env\",\"type\":\"share.created\",\"created_at\":"
		       "\"2020-01-01T00:00:00Z\",\"data\":{}}",
		       "evt_env", "share.created");
}

static void type_falls_back_from_property_to_routing_key(void **state)
{
	struct ev_input in = input("{\"data\":{}}");
	struct ev_event ev;

	(void)state;
	in.message_id = "evt_1";
	in.type_prop = "";
	in.routing_key = "family_member.added";
	expect_rewrite(in,
		       "{\"id\":\"evt_1\",\"type\":\"family_member.added\",\"created_at\":"
		       "\"2024-02-27T10:30:00Z\",\"data\":{}}",
		       "evt_1", "family_member.added");

	in.type_prop = NULL;
	in.routing_key = NULL;
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "no event type");
	ev_free(&ev);

	in.routing_key = "";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason, "no event type");
	ev_free(&ev);
}

static void unusable_properties_are_rejected(void **state)
{
	struct ev_input in = input("{\"data\":{}}");
	struct ev_event ev;

	(void)state;
	in.message_id = "evt_1\r\nX: y";
	in.routing_key = "user.updated";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	assert_string_equal(ev.reason,
			    "message_id must be 1 to 255 bytes without control characters");
	ev_free(&ev);

	in.message_id = "evt_1";
	in.type_prop = "bad\ntype";
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	ev_free(&ev);
}

static void missing_id_without_message_id_is_generated(void **state)
{
	struct ev_input in = input("{\"data\":{\"x\":1}}");
	struct ev_event ev;
	char want[200];

	(void)state;
	in.routing_key = "webhook.test";
	in.timestamp = 0;
	in.now = 0;
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_true(ev.rewritten);
	assert_int_equal(strlen(ev.id), 28);
	assert_memory_equal(ev.id, "evt_", 4);
	assert_true(snprintf(want, sizeof(want),
			     "{\"id\":\"%s\",\"type\":\"webhook.test\",\"created_at\":"
			     "\"1970-01-01T00:00:00Z\",\"data\":{\"x\":1}}",
			     ev.id) < (int)sizeof(want));
	assert_string_equal(ev.body, want);
	assert_int_equal(ev.len, strlen(want));
	ev_free(&ev);
}

static void created_at_comes_from_timestamp_else_now(void **state)
{
	struct ev_input in = input("{\"id\":\"evt_1\",\"type\":\"user.updated\",\"data\":{}}");
	static const char from_now[] = "{\"id\":\"evt_1\",\"type\":\"user.updated\",\"created_at\":"
				       "\"2024-02-27T10:30:00Z\",\"data\":{}}";

	(void)state;
	in.timestamp = 1000000000;
	expect_rewrite(in,
		       "{\"id\":\"evt_1\",\"type\":\"user.updated\",\"created_at\":"
		       "\"2001-09-09T01:46:40Z\",\"data\":{}}",
		       "evt_1", "user.updated");
	in.timestamp = 0;
	expect_rewrite(in, from_now, "evt_1", "user.updated");
	in.timestamp = -5;
	expect_rewrite(in, from_now, "evt_1", "user.updated");
	/* Milliseconds by mistake: year 56000-something, not RFC 3339. */
	in.timestamp = 1709029800000LL;
	expect_rewrite(in, from_now, "evt_1", "user.updated");
}

static void nesting_is_limited(void **state)
{
	char body[512];
	size_t pos = 0;
	struct ev_input in;
	struct ev_event ev;

	(void)state;
	/* {"data": then 98 arrays: 100 containers deep. */
	pos += (size_t)snprintf(body, sizeof(body), "{\"data\":{\"x\":");
	for (int i = 0; i < 98; i++)
		body[pos++] = '[';
	for (int i = 0; i < 98; i++)
		body[pos++] = ']';
	memcpy(body + pos, "}}", 3);
	in = input(body);
	in.routing_key = "user.updated";
	in.message_id = "evt_1";
	assert_int_equal(ev_prepare(&in, &ev), EV_OK);
	assert_true(ev.rewritten);
	assert_int_equal(ev.len, strlen(body) + strlen("\"id\":\"evt_1\",\"type\":\"user.updated\","
						       "\"created_at\":\"2024-02-27T10:30:00Z\","));
	ev_free(&ev);

	pos = (size_t)snprintf(body, sizeof(body), "{\"data\":{\"x\":");
	for (int i = 0; i < 99; i++)
		body[pos++] = '[';
	for (int i = 0; i < 99; i++)
		body[pos++] = ']';
	memcpy(body + pos, "}}", 3);
	expect_invalid(body, "body nests deeper than 100 levels");
}

static void free_is_safe_after_failure_and_twice(void **state)
{
	struct ev_input in = input("[]");
	struct ev_event ev;

	(void)state;
	assert_int_equal(ev_prepare(&in, &ev), EV_INVALID);
	ev_free(&ev);
	ev_free(&ev);
	ev_free(NULL);
}

static void delivery_id_matches_python_uuid5(void **state)
{
	char out[37];

	(void)state;
	/* python3: ns = uuid.uuid5(uuid.NAMESPACE_URL,
	 * "https://healthsync/hsbridge/delivery"); uuid.uuid5(ns, sub + "\n" + id) */
	ev_delivery_id("crm", "evt_abc123", out);
	assert_string_equal(out, "b2e371e8-22ca-522c-a448-fbb63412a172");
	ev_delivery_id("billing", "evt_abc123", out);
	assert_string_equal(out, "59cf8656-7f23-5c7e-aad1-9cbff99e2ba2");
	ev_delivery_id("crm", "evt_abd123", out);
	assert_string_equal(out, "9bcb66f5-6f43-5649-b1f1-1e1ecb054f83");
	ev_delivery_id("a", "b\nc", out);
	assert_string_equal(out, "62945bf6-dee6-574c-afcc-ffd67ee8c531");
	ev_delivery_id("", "", out);
	assert_string_equal(out, "a15e2ea3-6fcc-5fc4-8a76-e2c56d7f4d2d");
}

static void delivery_id_is_stable_and_well_formed(void **state)
{
	char a[37], b[37];

	(void)state;
	ev_delivery_id("sub_1", "evt_x", a);
	ev_delivery_id("sub_1", "evt_x", b);
	assert_string_equal(a, b);
	ev_delivery_id("sub_2", "evt_x", b);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[13], '-');
	assert_int_equal(a[18], '-');
	assert_int_equal(a[23], '-');
	assert_int_equal(a[14], '5');
	assert_non_null(strchr("89ab", a[19]));
}

struct match_case {
	const char *pattern;
	const char *key;
	bool want;
};

static void topic_match_follows_amqp(void **state)
{
	static const struct match_case cases[] = {
	    {"#", "", true},
	    {"#", "a", true},
	    {"#", "a.b", true},
	    {"#", "a.b.c.d", true},
	    {"*", "", false},
	    {"*", "a", true},
	    {"*", "a.b", false},
	    {"a", "a", true},
	    {"a", "b", false},
	    {"a", "ab", false},
	    {"ab", "a", false},
	    {"a", "a.b", false},
	    {"a.b", "a", false},
	    {"", "", true},
	    {"", "a", false},
	    {"a.#", "a", true},
	    {"a.#", "a.b", true},
	    {"a.#", "a.b.c", true},
	    {"a.#", "b.a", false},
	    {"a.#", "ab", false},
	    {"*.b", "b", false},
	    {"*.b", "a.b", true},
	    {"*.b", "x.a.b", false},
	    {"#.b", "b", true},
	    {"#.b", "x.y.b", true},
	    {"#.b", "x.y.c", false},
	    {"#.b", "b.c", false},
	    {"a.#.b", "a.b", true},
	    {"a.#.b", "a.x.b", true},
	    {"a.#.b", "a.x.y.b", true},
	    {"a.#.b", "a.x.y.c", false},
	    {"a.#.b.#", "a.b", true},
	    {"a.#.b.#", "a.c.b.d.e", true},
	    {"#.#", "", true},
	    {"#.#", "a.b", true},
	    {"#.*", "", false},
	    {"#.*", "a", true},
	    {"#.*", "a.b.c", true},
	    {"*.#", "a", true},
	    {"*.#", "", false},
	    {"#.a.#", "a", true},
	    {"#.a.#", "x.a.y", true},
	    {"#.a.#", "x.b.y", false},
	    {"*.*", "a.b", true},
	    {"*.*", "a", false},
	    {"document.*", "document.uploaded", true},
	    {"document.*", "document", false},
	    {"document.*", "share.created", false},
	    {"*.created", "share.created", true},
	    {"share.#", "share.created", true},
	    {"document.uploaded", "document.uploaded", true},
	    {"document.uploaded", "document.uploaded.x", false},
	    {"#.a.b", "a.a.b", true},
	    {"#.a.#.a", "a.a", true},
	    {"#.a.#.a", "a", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ev_topic_match(cases[i].pattern, cases[i].key) != cases[i].want)
			fail_msg("pattern \"%s\" key \"%s\": want %d", cases[i].pattern,
				 cases[i].key, cases[i].want);
	}
}

static void many_hashes_do_not_blow_up(void **state)
{
	(void)state;
	assert_false(ev_topic_match("#.a.#.a.#.a.#.a.#.a.#.a.#.b",
				    "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.c"));
	assert_true(ev_topic_match("#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.z",
				   "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z"));
}

static void pattern_validity(void **state)
{
	static const char *const good[] = {
	    "#",       "*",	"a",	 "document.uploaded",	"document.*", "*.created",
	    "share.#", "#.b",	"a.#.b", "family_member.added", "a-b.c_d.9",  "*.*",
	    "#.#",     "x.*.#",
	};
	static const char *const bad[] = {
	    "",	    ".",  "a.", ".a",	"a..b", "Document.uploaded", "a b", "a*",   "*a",
	    "a.#b", "##", "**", "a.b.", "a/b",	"document.%",	     "é",   "a\nb", "a.*.",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!ev_valid_pattern(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ev_valid_pattern(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	}
	assert_false(ev_valid_pattern(NULL));
}

static void pattern_in_catalogue(void **state)
{
	static const char *const in[] = {
	    "#",
	    "document.uploaded",
	    "document.*",
	    "*.created",
	    "share.#",
	    "*.*",
	    "webhook.test",
	    "family_member.#",
	    "#.revoked",
	    "user.updated",
	    "analysis.failed",
	    "*.failed",
	};
	static const char *const out[] = {
	    "document.created", "documents.*", "*",	"*.*.*",
	    "webhook.ping",	"user",	       "share", "a.#.b",
	    "#.nothing",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		if (!ev_pattern_in_catalogue(in[i]))
			fail_msg("\"%s\" should match the catalogue", in[i]);
	}
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		if (ev_pattern_in_catalogue(out[i]))
			fail_msg("\"%s\" should not match the catalogue", out[i]);
	}
}

static void new_id_has_prefix_and_24_alphanumerics(void **state)
{
	char a[29], b[40];
	char small[28];

	(void)state;
	assert_int_equal(ev_new_id(a, sizeof(a)), 0);
	assert_int_equal(ev_new_id(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 28);
	assert_int_equal(strlen(b), 28);
	assert_memory_equal(a, "evt_", 4);
	for (size_t i = 4; i < 28; i++) {
		if (!((a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') ||
		      (a[i] >= '0' && a[i] <= '9')))
			fail_msg("bad character in %s", a);
	}
	assert_string_not_equal(a, b);
	assert_int_equal(ev_new_id(small, sizeof(small)), -1);
}

static void new_id_uses_the_whole_alphabet(void **state)
{
	bool seen[128] = {false};
	char id[29];
	size_t distinct = 0;

	(void)state;
	/* 200 ids x 24 characters: every one of the 62 should turn up. */
	for (int n = 0; n < 200; n++) {
		assert_int_equal(ev_new_id(id, sizeof(id)), 0);
		for (size_t i = 4; i < 28; i++)
			seen[(unsigned char)id[i] & 0x7f] = true;
	}
	for (size_t c = 0; c < 128; c++)
		distinct += seen[c];
	assert_int_equal(distinct, 62);
}

static void format_time_is_rfc3339_utc(void **state)
{
	char buf[32];
	char small[20];

	(void)state;
	ev_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	ev_format_time(1709029800, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-27T10:30:00Z");
	ev_format_time(253402300799LL, buf, sizeof(buf));
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	ev_format_time(1709029800, small, sizeof(small));
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(complete_envelope_passes_byte_for_byte),
	    cmocka_unit_test(too_large_body_names_both_sizes),
	    cmocka_unit_test(body_at_limit_or_without_limit_is_accepted),
	    cmocka_unit_test(invalid_json_is_rejected),
	    cmocka_unit_test(body_with_nul_byte_is_rejected),
	    cmocka_unit_test(body_that_is_not_utf8_json_is_rejected),
	    cmocka_unit_test(envelope_type_must_equal_the_routing_key),
	    cmocka_unit_test(surrogate_pairs_and_raw_utf8_pass),
	    cmocka_unit_test(fallback_properties_must_be_utf8),
	    cmocka_unit_test(non_object_is_rejected),
	    cmocka_unit_test(envelope_without_data_object_is_rejected),
	    cmocka_unit_test(bad_id_type_created_at_are_rejected),
	    cmocka_unit_test(overlong_id_is_rejected),
	    cmocka_unit_test(duplicate_envelope_keys_are_rejected),
	    cmocka_unit_test(duplicate_keys_elsewhere_are_kept),
	    cmocka_unit_test(rewrite_preserves_numbers_strings_and_order),
	    cmocka_unit_test(envelope_fields_win_over_properties),
	    cmocka_unit_test(type_falls_back_from_property_to_routing_key),
	    cmocka_unit_test(unusable_properties_are_rejected),
	    cmocka_unit_test(missing_id_without_message_id_is_generated),
	    cmocka_unit_test(created_at_comes_from_timestamp_else_now),
	    cmocka_unit_test(nesting_is_limited),
	    cmocka_unit_test(free_is_safe_after_failure_and_twice),
	    cmocka_unit_test(delivery_id_matches_python_uuid5),
	    cmocka_unit_test(delivery_id_is_stable_and_well_formed),
	    cmocka_unit_test(topic_match_follows_amqp),
	    cmocka_unit_test(many_hashes_do_not_blow_up),
	    cmocka_unit_test(pattern_validity),
	    cmocka_unit_test(pattern_in_catalogue),
	    cmocka_unit_test(new_id_has_prefix_and_24_alphanumerics),
	    cmocka_unit_test(new_id_uses_the_whole_alphabet),
	    cmocka_unit_test(format_time_is_rfc3339_utc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
