/* Fuzz harness: ev_prepare (src/event.c) with every input it takes.
 *
 * Input layout: five fields split at the first four NUL bytes,
 *   TIMESTAMP \0 MESSAGE_ID \0 TYPE \0 ROUTING_KEY \0 BODY
 * TIMESTAMP is decimal text for the AMQP timestamp (strtoll: anything else
 * reads as its numeric prefix or 0). The three properties are NUL-free C
 * strings, as the bridge hands them over; a field missing because the input
 * has fewer NULs is NULL (BODY then empty). BODY is every byte after the
 * fourth NUL, NULs included. max_body is 0 (no limit) when TIMESTAMP starts
 * with '-', else 4096.
 *
 * Checked on EV_OK: the body is JSON with id, type, created_at and data at
 * the top, id and type equal to what ev_prepare returned; an unrewritten
 * body is the input byte for byte; a rewritten one takes id and type from
 * the envelope, the properties or a new evt_ id as documented; and
 * preparing the output again gives it back unchanged (a fixed point). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "fuzz.h"
#include "hsbridge/event.h"

/* Every accepted body is strict UTF-8 (issue 6, item 2). Before that fix
 * ev_prepare put a non-UTF-8 type, message_id or routing key raw into a
 * rewritten body, which it then refused itself; false would skip the UTF-8
 * and fixed-point checks for such inputs again. */
static const bool expect_utf8 = true;

#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */

/* What the output's top level holds, as a receiver's parser sees it. */
struct top {
	int depth;
	int member; /* 0 id, 1 type, 2 created_at, 3 data, -1 other: whose value comes next */
	int seen[4];
	char *str[3];
	bool data_is_object;
};

static int on_key(void *ctx, const unsigned char *k, size_t len)
{
	static const char *const names[] = {"id", "type", "created_at", "data"};
	struct top *t = ctx;

	t->member = -1;
	for (int i = 0; t->depth == 1 && i < 4; i++) {
		if (strlen(names[i]) == len && memcmp(names[i], k, len) == 0)
			t->member = i;
	}
	if (t->member >= 0)
		t->seen[t->member]++;
	return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct top *t = ctx;

	if (t->depth == 1 && t->member >= 0 && t->member < 3 && t->str[t->member] == NULL) {
		t->str[t->member] = strndup((const char *)s, len);
		if (t->str[t->member] == NULL)
			abort();
	}
	t->member = -1;
	return 1;
}

static int on_scalar(void *ctx)
{
	((struct top *)ctx)->member = -1;
	return 1;
}

static int on_bool(void *ctx, int b)
{
	(void)b;
	return on_scalar(ctx);
}

static int on_number(void *ctx, const char *s, size_t len)
{
	(void)s;
	(void)len;
	return on_scalar(ctx);
}

static int on_open(void *ctx, bool map)
{
	struct top *t = ctx;

	if (t->depth == 1 && t->member == 3)
		t->data_is_object = map;
	t->member = -1;
	t->depth++;
	return 1;
}

static int on_map(void *ctx)
{
	return on_open(ctx, true);
}

static int on_array(void *ctx)
{
	return on_open(ctx, false);
}

static int on_close(void *ctx)
{
	((struct top *)ctx)->depth--;
	return 1;
}

static const yajl_callbacks top_callbacks = {
    .yajl_null = on_scalar,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_close,
    .yajl_start_array = on_array,
    .yajl_end_array = on_close,
};

/* Parses body as a receiver would; false when it is not JSON. The caller
 * frees t->str. */
static bool parse_top(const char *body, size_t len, bool validate, struct top *t)
{
	yajl_handle h = yajl_alloc(&top_callbacks, NULL, t);
	yajl_status st;

	memset(t, 0, sizeof(*t));
	if (h == NULL)
		abort();
	yajl_config(h, yajl_dont_validate_strings, validate ? 0 : 1);
	st = yajl_parse(h, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	return st == yajl_status_ok;
}

static void free_top(struct top *t)
{
	for (int i = 0; i < 3; i++)
		free(t->str[i]);
}

static void check_json(const struct ev_event *ev)
{
	struct top t;

	if (!parse_top(ev->body, ev->len, true, &t))
		FUZZ_FAIL("output is not JSON: %.*s", (int)ev->len, ev->body);
	FUZZ_CHECK(t.seen[0] == 1 && t.seen[1] == 1 && t.seen[2] == 1 && t.seen[3] == 1);
	FUZZ_CHECK(t.data_is_object);
	FUZZ_CHECK(t.str[0] != NULL && strcmp(t.str[0], ev->id) == 0);
	FUZZ_CHECK(t.str[1] != NULL && strcmp(t.str[1], ev->type) == 0);
	FUZZ_CHECK(t.str[2] != NULL);
	free_top(&t);
}

/* The next NUL-terminated field, or NULL when the input has run out. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, '\0', (size_t)(end - *p));
	char *s;

	if (nul == NULL)
		return NULL;
	s = strndup((const char *)*p, (size_t)(nul - *p));
	if (s == NULL)
		abort();
	*p = nul + 1;
	return s;
}

static bool usable(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return n > 0 && n <= 255;
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
		unsigned long cp = len == 1   ? c
				   : len == 2 ? c & 0x1f
				   : len == 3 ? c & 0x0f
					      : c & 0x07;

		if ((c >= 0x80 && c < 0xc2) || c > 0xf4 || i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool text_ok(const char *s)
{
	return s == NULL || utf8_valid((const unsigned char *)s, strlen(s));
}

static bool given(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* id: the envelope's, else message_id, else a new evt_ id; type: the
 * envelope's, else the type property, else the routing key. */
static void check_sources(const struct ev_input *in, const struct ev_event *ev)
{
	struct top t;

	FUZZ_CHECK(usable(ev->id) && usable(ev->type));
	if (!ev->rewritten) {
		FUZZ_CHECK(ev->len == in->len && memcmp(ev->body, in->body, in->len) == 0);
		return;
	}
	FUZZ_CHECK(parse_top(in->body, in->len, true, &t));
	if (t.str[0] != NULL)
		FUZZ_CHECK(strcmp(ev->id, t.str[0]) == 0);
	else if (given(in->message_id))
		FUZZ_CHECK(strcmp(ev->id, in->message_id) == 0);
	else
		FUZZ_CHECK(strncmp(ev->id, "evt_", 4) == 0 && strlen(ev->id) == 28);
	if (t.str[1] != NULL)
		FUZZ_CHECK(strcmp(ev->type, t.str[1]) == 0);
	else if (given(in->type_prop))
		FUZZ_CHECK(strcmp(ev->type, in->type_prop) == 0);
	else
		FUZZ_CHECK(given(in->routing_key) && strcmp(ev->type, in->routing_key) == 0);
	free_top(&t);
}

static void check_fixed_point(const struct ev_event *ev)
{
	struct ev_input again = {.body = ev->body, .len = ev->len, .now = NOW};
	struct ev_event ev2;

	if (ev_prepare(&again, &ev2) != EV_OK)
		FUZZ_FAIL("output refused: %s", ev2.reason);
	FUZZ_CHECK(!ev2.rewritten);
	FUZZ_CHECK(strcmp(ev2.id, ev->id) == 0 && strcmp(ev2.type, ev->type) == 0);
	ev_free(&ev2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *ts = field(&p, end);
	char *mid = ts != NULL ? field(&p, end) : NULL;
	char *type = mid != NULL ? field(&p, end) : NULL;
	char *rk = type != NULL ? field(&p, end) : NULL;
	size_t body_len = rk != NULL ? (size_t)(end - p) : 0;
	char *body = malloc(body_len + 1);
	struct ev_input in = {0};
	struct ev_event ev;

	if (body == NULL)
		abort();
	memcpy(body, p, body_len);
	body[body_len] = '\0';
	in.body = body;
	in.len = body_len;
	in.max_body = ts != NULL && ts[0] == '-' ? 0 : 4096;
	in.message_id = mid;
	in.type_prop = type;
	in.routing_key = rk;
	in.timestamp = ts != NULL ? strtoll(ts, NULL, 10) : 0;
	in.now = NOW;
	if (ev_prepare(&in, &ev) == EV_OK) {
		bool strict = expect_utf8 || (text_ok(mid) && text_ok(type) && text_ok(rk));

		FUZZ_CHECK(ev.body != NULL && ev.body[ev.len] == '\0');
		FUZZ_CHECK(memchr(ev.body, '\0', ev.len) == NULL);
		if (expect_utf8)
			FUZZ_CHECK(utf8_valid((const unsigned char *)ev.body, ev.len));
		if (strict)
			check_json(&ev);
		check_sources(&in, &ev);
		if (strict)
			check_fixed_point(&ev);
		ev_free(&ev);
	} else {
		FUZZ_CHECK(ev.body == NULL && ev.id == NULL && ev.reason[0] != '\0');
		FUZZ_CHECK(memchr(ev.reason, '\0', sizeof(ev.reason)) != NULL);
	}
	free(body);
	free(ts);
	free(mid);
	free(type);
	free(rk);
	return 0;
}
