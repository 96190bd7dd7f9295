/* Unit tests for broker_read.c's pure part: brk_props_copy, the deep copy
 * of a message's properties that replaces rabbitmq-c's clone (which refuses
 * a header whose name is empty), and brk_dropped_text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/broker.h"
#include "hsbridge/wire.h"

static amqp_bytes_t b(const char *s)
{
	return amqp_cstring_bytes(s);
}

static amqp_field_value_t utf8(const char *s)
{
	amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_UTF8};

	v.value.bytes = b(s);
	return v;
}

static amqp_field_value_t table_of(amqp_table_entry_t *e, int n)
{
	amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_TABLE};

	v.value.table.num_entries = n;
	v.value.table.entries = e;
	return v;
}

static amqp_field_value_t array_of(amqp_field_value_t *e, int n)
{
	amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_ARRAY};

	v.value.array.num_entries = n;
	v.value.array.entries = e;
	return v;
}

static amqp_table_entry_t entry(const char *key, amqp_field_value_t v)
{
	amqp_table_entry_t e = {.key = b(key), .value = v};

	return e;
}

static bool bytes_eq(amqp_bytes_t x, amqp_bytes_t y)
{
	return x.len == y.len && (x.len == 0 || memcmp(x.bytes, y.bytes, x.len) == 0);
}

/* Equal values whose strings, tables and arrays live elsewhere (a copy
 * borrows nothing). */
static void assert_copied_value(const amqp_field_value_t *o, const amqp_field_value_t *c);

static void assert_copied_bytes(amqp_bytes_t o, amqp_bytes_t c)
{
	assert_true(bytes_eq(o, c));
	if (o.len > 0)
		assert_ptr_not_equal(o.bytes, c.bytes);
}

static void assert_copied_table(const amqp_table_t *o, const amqp_table_t *c)
{
	assert_int_equal(o->num_entries, c->num_entries);
	if (o->num_entries > 0)
		assert_ptr_not_equal(o->entries, c->entries);
	for (int i = 0; i < o->num_entries; i++) {
		assert_copied_bytes(o->entries[i].key, c->entries[i].key);
		assert_copied_value(&o->entries[i].value, &c->entries[i].value);
	}
}

static void assert_copied_value(const amqp_field_value_t *o, const amqp_field_value_t *c)
{
	assert_int_equal(o->kind, c->kind);
	switch (o->kind) {
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		assert_copied_bytes(o->value.bytes, c->value.bytes);
		break;
	case AMQP_FIELD_KIND_TABLE:
		assert_copied_table(&o->value.table, &c->value.table);
		break;
	case AMQP_FIELD_KIND_ARRAY:
		assert_int_equal(o->value.array.num_entries, c->value.array.num_entries);
		for (int i = 0; i < o->value.array.num_entries; i++)
			assert_copied_value(&o->value.array.entries[i], &c->value.array.entries[i]);
		break;
	default:
		assert_memory_equal(&o->value, &c->value, sizeof(o->value));
	}
}

/* Copies p into a fresh pool; the caller empties it. */
static unsigned copy(const amqp_basic_properties_t *p, amqp_basic_properties_t *out,
		     amqp_pool_t *pool)
{
	unsigned dropped = 0;

	init_amqp_pool(pool, 4096);
	assert_int_equal(brk_props_copy(p, out, pool, &dropped), 0);
	return dropped;
}

static amqp_basic_properties_t with_headers(amqp_table_entry_t *e, int n)
{
	amqp_basic_properties_t p = {._flags = AMQP_BASIC_HEADERS_FLAG};

	p.headers.num_entries = n;
	p.headers.entries = e;
	return p;
}

static void every_field_kind_is_copied_deeply(void **state)
{
	amqp_field_value_t v[16];
	amqp_table_entry_t inner[2] = {entry("s", utf8("deep")), entry("e", utf8(""))};
	amqp_field_value_t elems[3];
	amqp_table_entry_t h[17];
	amqp_basic_properties_t p, c;
	amqp_pool_t pool;
	int n = 0;

	(void)state;
	memset(v, 0, sizeof(v));
	v[0].kind = AMQP_FIELD_KIND_BOOLEAN, v[0].value.boolean = 1;
	v[1].kind = AMQP_FIELD_KIND_I8, v[1].value.i8 = -8;
	v[2].kind = AMQP_FIELD_KIND_U8, v[2].value.u8 = 200;
	v[3].kind = AMQP_FIELD_KIND_I16, v[3].value.i16 = -1600;
	v[4].kind = AMQP_FIELD_KIND_U16, v[4].value.u16 = 60000;
	v[5].kind = AMQP_FIELD_KIND_I32, v[5].value.i32 = INT32_MIN;
	v[6].kind = AMQP_FIELD_KIND_U32, v[6].value.u32 = UINT32_MAX;
	v[7].kind = AMQP_FIELD_KIND_I64, v[7].value.i64 = INT64_MIN;
	v[8].kind = AMQP_FIELD_KIND_U64, v[8].value.u64 = UINT64_MAX;
	v[9].kind = AMQP_FIELD_KIND_F32, v[9].value.f32 = 1.5f;
	v[10].kind = AMQP_FIELD_KIND_F64, v[10].value.f64 = -2.25;
	v[11].kind = AMQP_FIELD_KIND_DECIMAL, v[11].value.decimal.decimals = 2,
	v[11].value.decimal.value = 314;
	v[12].kind = AMQP_FIELD_KIND_TIMESTAMP, v[12].value.u64 = 1700000000;
	v[13].kind = AMQP_FIELD_KIND_VOID;
	v[14] = utf8("text");
	v[15].kind = AMQP_FIELD_KIND_BYTES, v[15].value.bytes = (amqp_bytes_t){3, "\0\1\2"};
	static const char *const keys[] = {"t", "b", "B", "s", "u", "I", "i", "l",
					   "L", "f", "d", "D", "T", "V", "S", "x"};
	for (; n < 16; n++)
		h[n] = entry(keys[n], v[n]);
	elems[0] = table_of(inner, 2);
	elems[1] = utf8("in array");
	elems[2] = array_of(NULL, 0);
	h[n++] = entry("A", array_of(elems, 3));
	p = with_headers(h, n);
	assert_int_equal(copy(&p, &c, &pool), 0);
	assert_int_equal(c._flags, p._flags);
	assert_copied_table(&p.headers, &c.headers);
	assert_int_equal(wire_table_size(&c.headers), wire_table_size(&p.headers));
	empty_amqp_pool(&pool);
}

static void short_strings_are_copied_and_unset_ones_are_empty(void **state)
{
	amqp_basic_properties_t p, c;
	amqp_pool_t pool;
	char *mid = strdup("evt_1");

	(void)state;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
		   AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG |
		   AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
		   AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
		   AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG |
		   AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_CLUSTER_ID_FLAG;
	p.content_type = b("application/json");
	p.content_encoding = b("identity");
	p.delivery_mode = 2;
	p.priority = 7;
	p.correlation_id = b("corr");
	p.reply_to = b("");
	p.expiration = b("60000");
	p.message_id = b(mid);
	p.timestamp = 1700000000;
	p.type = b("document.uploaded");
	p.user_id = b("guest");
	p.app_id = b("records");
	p.cluster_id = b("c1");
	assert_int_equal(copy(&p, &c, &pool), 0);
	assert_int_equal(c._flags, p._flags);
	assert_int_equal(c.delivery_mode, 2);
	assert_int_equal(c.priority, 7);
	assert_int_equal(c.timestamp, 1700000000);
	assert_copied_bytes(p.content_type, c.content_type);
	assert_copied_bytes(p.content_encoding, c.content_encoding);
	assert_copied_bytes(p.correlation_id, c.correlation_id);
	assert_copied_bytes(p.reply_to, c.reply_to);
	assert_copied_bytes(p.expiration, c.expiration);
	assert_copied_bytes(p.message_id, c.message_id);
	assert_copied_bytes(p.type, c.type);
	assert_copied_bytes(p.user_id, c.user_id);
	assert_copied_bytes(p.app_id, c.app_id);
	assert_copied_bytes(p.cluster_id, c.cluster_id);
	assert_int_equal(c.headers.num_entries, 0);
	/* The source dies, the copy stays (ASan would see a use after free). */
	free(mid);
	assert_memory_equal(c.message_id.bytes, "evt_1", 5);
	assert_int_equal(wire_header_frame_size(&c), wire_header_frame_size(&p));
	empty_amqp_pool(&pool);

	/* Flags unset: whatever the fields held is not followed. */
	memset(&p, 0, sizeof(p));
	p.message_id = (amqp_bytes_t){5, (void *)1};
	p.headers.num_entries = 3;
	p.headers.entries = (void *)1;
	assert_int_equal(copy(&p, &c, &pool), 0);
	assert_int_equal(c._flags, 0);
	assert_int_equal(c.message_id.len, 0);
	assert_int_equal(c.headers.num_entries, 0);
	empty_amqp_pool(&pool);
}

/* An empty name is dropped wherever it is; the rest keeps its order. */
static void empty_names_are_dropped_at_any_depth(void **state)
{
	amqp_table_entry_t t1[] = {entry("", utf8("x")), entry("keep", utf8("1"))};
	amqp_table_entry_t t2[] = {entry("", utf8("y"))};
	amqp_field_value_t a1[] = {table_of(t2, 1), utf8("z")};
	amqp_table_entry_t t3[] = {entry("list", array_of(a1, 2))};
	amqp_table_entry_t h[] = {entry("", utf8("top")),	  entry("a", utf8("1")),
				  entry("nest", table_of(t1, 2)), entry("", utf8("again")),
				  entry("arr", array_of(a1, 2)),  entry("deep", table_of(t3, 1)),
				  entry("z", utf8("last"))};
	amqp_basic_properties_t p = with_headers(h, 7), c;
	amqp_pool_t pool;
	const amqp_table_t *ct;

	(void)state;
	assert_int_equal(copy(&p, &c, &pool), BRK_DROPPED_EMPTY_NAME);
	ct = &c.headers;
	assert_int_equal(ct->num_entries, 5);
	assert_true(bytes_eq(ct->entries[0].key, b("a")));
	assert_true(bytes_eq(ct->entries[1].key, b("nest")));
	assert_int_equal(ct->entries[1].value.value.table.num_entries, 1);
	assert_true(bytes_eq(ct->entries[1].value.value.table.entries[0].key, b("keep")));
	assert_true(bytes_eq(ct->entries[2].key, b("arr")));
	assert_int_equal(ct->entries[2].value.value.array.num_entries, 2);
	assert_int_equal(ct->entries[2].value.value.array.entries[0].value.table.num_entries, 0);
	assert_true(bytes_eq(ct->entries[2].value.value.array.entries[1].value.bytes, b("z")));
	assert_true(bytes_eq(ct->entries[3].key, b("deep")));
	assert_int_equal(ct->entries[3]
			     .value.value.table.entries[0]
			     .value.value.array.entries[0]
			     .value.table.num_entries,
			 0);
	assert_true(bytes_eq(ct->entries[4].value.value.bytes, b("last")));
	empty_amqp_pool(&pool);

	/* Only the nested one: the bit is set all the same. */
	p = with_headers(t3, 1);
	assert_int_equal(copy(&p, &c, &pool), BRK_DROPPED_EMPTY_NAME);
	empty_amqp_pool(&pool);
	/* Nothing to drop: no bit. */
	p = with_headers(&h[1], 1);
	assert_int_equal(copy(&p, &c, &pool), 0);
	empty_amqp_pool(&pool);
	/* Only empty names: an empty table, the headers flag kept. */
	p = with_headers(t2, 1);
	assert_int_equal(copy(&p, &c, &pool), BRK_DROPPED_EMPTY_NAME);
	assert_int_equal(c.headers.num_entries, 0);
	assert_true(c._flags & AMQP_BASIC_HEADERS_FLAG);
	empty_amqp_pool(&pool);
}

/* Tables (tables) or arrays (!tables) nested levels deep below the headers
 * (the headers being level 1), innermost a string. */
static amqp_basic_properties_t nested(int levels, bool tables, amqp_table_entry_t *te,
				      amqp_field_value_t *ae)
{
	amqp_field_value_t inner = utf8("bottom");

	for (int i = levels - 1; i >= 1; i--) {
		te[i] = entry("k", inner);
		ae[i] = inner;
		inner = tables ? table_of(&te[i], 1) : array_of(&ae[i], 1);
	}
	te[0] = entry("k", inner);
	return with_headers(te, 1);
}

static int depth_of(const amqp_field_value_t *v)
{
	if (v->kind == AMQP_FIELD_KIND_TABLE)
		return v->value.table.num_entries ? 1 + depth_of(&v->value.table.entries[0].value)
						  : 1;
	if (v->kind == AMQP_FIELD_KIND_ARRAY)
		return v->value.array.num_entries ? 1 + depth_of(&v->value.array.entries[0]) : 1;
	return 0;
}

static void nesting_is_kept_to_the_limit_and_dropped_beyond(void **state)
{
	static amqp_table_entry_t te[BRK_PROPS_MAX_DEPTH + 2];
	static amqp_field_value_t ae[BRK_PROPS_MAX_DEPTH + 2];
	amqp_basic_properties_t p, c;
	amqp_pool_t pool;

	(void)state;
	for (int tables = 0; tables < 2; tables++) {
		/* MAX levels: the headers and MAX - 1 nested containers. */
		p = nested(BRK_PROPS_MAX_DEPTH, tables, te, ae);
		assert_int_equal(copy(&p, &c, &pool), 0);
		assert_int_equal(1 + depth_of(&c.headers.entries[0].value), BRK_PROPS_MAX_DEPTH);
		assert_copied_table(&p.headers, &c.headers);
		empty_amqp_pool(&pool);
		/* One more: the innermost container goes, its parent stays. */
		p = nested(BRK_PROPS_MAX_DEPTH + 1, tables, te, ae);
		assert_int_equal(copy(&p, &c, &pool), BRK_DROPPED_TOO_DEEP);
		assert_int_equal(1 + depth_of(&c.headers.entries[0].value), BRK_PROPS_MAX_DEPTH);
		empty_amqp_pool(&pool);
	}
}

static void dropped_bits_are_added_to_what_the_caller_had(void **state)
{
	amqp_table_entry_t h[] = {entry("", utf8("x"))};
	amqp_basic_properties_t p = with_headers(h, 1), c;
	amqp_pool_t pool;
	unsigned dropped = BRK_DROPPED_TOO_DEEP;

	(void)state;
	init_amqp_pool(&pool, 4096);
	assert_int_equal(brk_props_copy(&p, &c, &pool, &dropped), 0);
	assert_int_equal(dropped, BRK_DROPPED_TOO_DEEP | BRK_DROPPED_EMPTY_NAME);
	empty_amqp_pool(&pool);
}

/* Long strings and many entries take more than one pool page. */
static void large_headers_span_pool_pages(void **state)
{
	enum { N = 300 };
	static amqp_table_entry_t h[N];
	static char keys[N][8];
	char *big = malloc(100000);
	amqp_basic_properties_t p, c;
	amqp_pool_t pool;

	(void)state;
	assert_non_null(big);
	memset(big, 'p', 99999);
	big[99999] = '\0';
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		h[i] = entry(keys[i], i == 7 ? utf8(big) : utf8("v"));
	}
	p = with_headers(h, N);
	assert_int_equal(copy(&p, &c, &pool), 0);
	assert_copied_table(&p.headers, &c.headers);
	free(big);
	assert_int_equal(c.headers.entries[7].value.value.bytes.len, 99999);
	assert_int_equal(((char *)c.headers.entries[7].value.value.bytes.bytes)[99998], 'p');
	empty_amqp_pool(&pool);
}

static void dropped_text_names_what_was_dropped(void **state)
{
	(void)state;
	assert_string_equal(brk_dropped_text(0), "");
	assert_non_null(strstr(brk_dropped_text(BRK_DROPPED_EMPTY_NAME), "empty header name"));
	assert_null(strstr(brk_dropped_text(BRK_DROPPED_EMPTY_NAME), "deep"));
	assert_non_null(strstr(brk_dropped_text(BRK_DROPPED_TOO_DEEP), "nested too deep"));
	assert_null(strstr(brk_dropped_text(BRK_DROPPED_TOO_DEEP), "empty"));
	assert_non_null(strstr(brk_dropped_text(BRK_DROPPED_EMPTY_NAME | BRK_DROPPED_TOO_DEEP),
			       "empty header name"));
	assert_non_null(strstr(brk_dropped_text(BRK_DROPPED_EMPTY_NAME | BRK_DROPPED_TOO_DEEP),
			       "nested too deep"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_field_kind_is_copied_deeply),
	    cmocka_unit_test(short_strings_are_copied_and_unset_ones_are_empty),
	    cmocka_unit_test(empty_names_are_dropped_at_any_depth),
	    cmocka_unit_test(nesting_is_kept_to_the_limit_and_dropped_beyond),
	    cmocka_unit_test(dropped_bits_are_added_to_what_the_caller_had),
	    cmocka_unit_test(large_headers_span_pool_pages),
	    cmocka_unit_test(dropped_text_names_what_was_dropped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
