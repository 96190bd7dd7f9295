/* Fuzz harness: the AMQP header readers of copy.c (copy_header_uint,
 * copy_attempts, copy_header_text, copy_first_failure_at,
 * copy_has_bookkeeping, the bookkeeping filter and marks of copy_build) and
 * the seal on them (mark_verify, as bridge_relay.c's trusted_attempts uses
 * it), and brk_props_copy (how every message is read: the copy must be the
 * source with its empty-named entries left out) over header tables built
 * from the fuzz bytes.
 *
 * Input layout (a small structured decoder; a byte past the end reads as 0):
 *   byte 0       bit 0: the headers flag is set; bit 1: a message_id property;
 *                bit 2: a valid hsbridge-mark is appended to the table (a
 *                copy the bridge made); bit 3: the copy gets a mark; bit 4:
 *                the copy drops the original's headers; bit 5: the copy
 *                carries the original's first failure over
 *   byte 1       attempts for the copy's marks (0: none, so no first-failure)
 *   bytes 2..9   the max handed to copy_header_uint (little-endian u64)
 *   then a table: a count byte (% 32 at the top, % 8 nested), then entries.
 *   entry        key, value
 *   key          a length byte L: L >= 0xf0 picks well_known[L & 0x0f],
 *                else L % 64 raw bytes (any bytes: NUL, non-UTF-8)
 *   value        a kind byte (kinds[b % N_KINDS]), then the kind's payload:
 *                integers and floats little-endian, strings as a length byte
 *                and bytes, arrays and tables a count byte and elements,
 *                nested at most MAX_DEPTH deep.
 * Every string and table is its own malloc block, so ASan sees a read past
 * a length. The readers are checked against a model written here. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>

#include "fuzz.h"
#include "hsbridge/broker.h"
#include "hsbridge/copy.h"
#include "hsbridge/mark.h"

#define MAX_DEPTH 4
#define MAX_BLOCKS 4096
/* copy_attempts' clamp today. When attempts are clamped to the schedule
 * (issue 6, item 3), this bound tightens. */
#define ATTEMPTS_BOUND 1000
#define NOW "2026-01-02T03:04:05Z"
#define SECRET "fuzz-secret"

static const char *const well_known[16] = {
    "hsbridge-attempts",
    "hsbridge-first-failure-at",
    "hsbridge-copy",
    "hsbridge-last-status",
    "hsbridge-last-error",
    "hsbridge-parked-reason",
    "x-death",
    "x-first-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
    "hsbridge-",
    "x-deat",
    "traceparent",
    "hsbridge",
    "hsbridge-mark",
    "HSBRIDGE-ATTEMPTS",
};

static const char kinds[] = {
    AMQP_FIELD_KIND_BOOLEAN, AMQP_FIELD_KIND_I8,    AMQP_FIELD_KIND_U8,
    AMQP_FIELD_KIND_I16,     AMQP_FIELD_KIND_U16,   AMQP_FIELD_KIND_I32,
    AMQP_FIELD_KIND_U32,     AMQP_FIELD_KIND_I64,   AMQP_FIELD_KIND_U64,
    AMQP_FIELD_KIND_F32,     AMQP_FIELD_KIND_F64,   AMQP_FIELD_KIND_DECIMAL,
    AMQP_FIELD_KIND_UTF8,    AMQP_FIELD_KIND_ARRAY, AMQP_FIELD_KIND_TIMESTAMP,
    AMQP_FIELD_KIND_TABLE,   AMQP_FIELD_KIND_VOID,  AMQP_FIELD_KIND_BYTES,
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct dec {
	const uint8_t *p;
	size_t n;
	void *blocks[MAX_BLOCKS];
	size_t n_blocks;
};

static uint8_t u8(struct dec *d)
{
	uint8_t b = 0;

	if (d->n > 0) {
		b = *d->p++;
		d->n--;
	}
	return b;
}

static uint64_t le(struct dec *d, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)u8(d) << (8 * i);
	return v;
}

/* An exact-size block (malloc(0) included), freed after the run. */
static void *block(struct dec *d, size_t size)
{
	void *b;

	if (d->n_blocks == MAX_BLOCKS)
		return NULL;
	b = malloc(size);
	if (b == NULL)
		abort();
	d->blocks[d->n_blocks++] = b;
	return b;
}

static amqp_bytes_t raw_bytes(struct dec *d, size_t len)
{
	amqp_bytes_t out = {0, NULL};

	if (len > d->n)
		len = d->n;
	out.bytes = block(d, len);
	if (out.bytes == NULL)
		return (amqp_bytes_t){0, NULL};
	memcpy(out.bytes, d->p, len);
	out.len = len;
	d->p += len;
	d->n -= len;
	return out;
}

static amqp_bytes_t key_of(struct dec *d)
{
	uint8_t l = u8(d);
	const char *k;
	amqp_bytes_t out;

	if (l < 0xf0)
		return raw_bytes(d, l % 64);
	k = well_known[l & 0x0f];
	out.len = strlen(k);
	out.bytes = block(d, out.len);
	if (out.bytes == NULL)
		return (amqp_bytes_t){0, NULL};
	memcpy(out.bytes, k, out.len);
	return out;
}

static void table_of(struct dec *d, amqp_table_t *t, int depth, unsigned max_count);

static void value_of(struct dec *d, amqp_field_value_t *v, int depth)
{
	memset(v, 0, sizeof(*v));
	v->kind = (uint8_t)kinds[u8(d) % N_KINDS];
	switch (v->kind) {
	case AMQP_FIELD_KIND_BOOLEAN:
		v->value.boolean = u8(d) & 1;
		break;
	case AMQP_FIELD_KIND_I8:
	case AMQP_FIELD_KIND_U8:
		v->value.u8 = u8(d);
		break;
	case AMQP_FIELD_KIND_I16:
	case AMQP_FIELD_KIND_U16:
		v->value.u16 = (uint16_t)le(d, 2);
		break;
	case AMQP_FIELD_KIND_I32:
	case AMQP_FIELD_KIND_U32:
	case AMQP_FIELD_KIND_F32:
		v->value.u32 = (uint32_t)le(d, 4);
		break;
	case AMQP_FIELD_KIND_DECIMAL:
		v->value.decimal.decimals = u8(d);
		v->value.decimal.value = (uint32_t)le(d, 4);
		break;
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		v->value.bytes = raw_bytes(d, u8(d));
		break;
	case AMQP_FIELD_KIND_ARRAY: {
		int n = depth < MAX_DEPTH ? u8(d) % 8 : 0;
		amqp_field_value_t *e = block(d, (size_t)n * sizeof(*e));

		v->value.array.entries = e;
		v->value.array.num_entries = e != NULL ? n : 0;
		for (int i = 0; i < v->value.array.num_entries; i++)
			value_of(d, &e[i], depth + 1);
		break;
	}
	case AMQP_FIELD_KIND_TABLE:
		table_of(d, &v->value.table, depth + 1, depth < MAX_DEPTH ? 8 : 1);
		break;
	case AMQP_FIELD_KIND_VOID:
		break;
	default: /* I64, U64, F64, TIMESTAMP */
		v->value.u64 = le(d, 8);
		break;
	}
}

static void table_of(struct dec *d, amqp_table_t *t, int depth, unsigned max_count)
{
	int n = (int)(u8(d) % max_count);
	amqp_table_entry_t *e = block(d, (size_t)n * sizeof(*e));

	t->entries = e;
	t->num_entries = e != NULL ? n : 0;
	for (int i = 0; i < t->num_entries; i++) {
		e[i].key = key_of(d);
		value_of(d, &e[i].value, depth);
	}
}

/* The model: the first entry whose key matches, any integer kind, clamped. */
static unsigned long long model_uint(const amqp_basic_properties_t *p, const char *key,
				     unsigned long long max)
{
	size_t n = strlen(key);
	const amqp_field_value_t *v = NULL;
	long long s;

	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return 0;
	for (int i = 0; i < p->headers.num_entries && v == NULL; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == n && memcmp(e->key.bytes, key, n) == 0)
			v = &e->value;
	}
	if (v == NULL)
		return 0;
	switch (v->kind) {
	case AMQP_FIELD_KIND_U64:
		return v->value.u64 < max ? v->value.u64 : max;
	case AMQP_FIELD_KIND_I8:
		s = v->value.i8;
		break;
	case AMQP_FIELD_KIND_U8:
		s = v->value.u8;
		break;
	case AMQP_FIELD_KIND_I16:
		s = v->value.i16;
		break;
	case AMQP_FIELD_KIND_U16:
		s = v->value.u16;
		break;
	case AMQP_FIELD_KIND_I32:
		s = v->value.i32;
		break;
	case AMQP_FIELD_KIND_U32:
		s = v->value.u32;
		break;
	case AMQP_FIELD_KIND_I64:
		s = v->value.i64;
		break;
	default:
		return 0;
	}
	return s <= 0 ? 0 : (unsigned long long)s < max ? (unsigned long long)s : max;
}

static const amqp_field_value_t *model_find(const amqp_basic_properties_t *p, const char *key)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == strlen(key) && memcmp(e->key.bytes, key, e->key.len) == 0)
			return &e->value;
	}
	return NULL;
}

/* copy_header_text, copy_first_failure_at and copy_has_bookkeeping. */
static void check_text_readers(const amqp_basic_properties_t *p)
{
	const amqp_field_value_t *v = model_find(p, "hsbridge-first-failure-at");
	bool text =
	    v != NULL && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES);
	bool fits = v != NULL && v->kind == AMQP_FIELD_KIND_UTF8 && v->value.bytes.len < 64;
	bool any = false;
	const char *s = NULL;
	size_t len = 0;
	char buf[64], want[64] = "";

	FUZZ_CHECK(copy_header_text(p, "hsbridge-first-failure-at", &s, &len) == text);
	if (text)
		FUZZ_CHECK(s == v->value.bytes.bytes && len == v->value.bytes.len);
	FUZZ_CHECK(copy_first_failure_at(p, buf, sizeof(buf)) == fits);
	if (fits) {
		memcpy(want, v->value.bytes.bytes, v->value.bytes.len);
		want[v->value.bytes.len] = '\0';
	}
	FUZZ_CHECK(strcmp(buf, want) == 0);
	for (int i = 0; (p->_flags & AMQP_BASIC_HEADERS_FLAG) && i < p->headers.num_entries; i++) {
		amqp_bytes_t k = p->headers.entries[i].key;

		any = any || (k.len >= 9 && memcmp(k.bytes, "hsbridge-", 9) == 0);
	}
	FUZZ_CHECK(copy_has_bookkeeping(p) == any);
}

/* The mark a bridge with SECRET would put on a copy with these headers. */
static bool seal(struct dec *d, amqp_basic_properties_t *p)
{
	static char mark[MARK_HEX_LEN + 1];
	struct mark_input in = {.sub = "fuzz", .body = "{}", .len = 2};
	char first[64];
	amqp_table_entry_t *e;
	int n = p->headers.num_entries;

	copy_first_failure_at(p, first, sizeof(first));
	in.attempts = copy_attempts(p);
	in.first_failure_at = first;
	e = block(d, ((size_t)n + 1) * sizeof(*e));
	if (e == NULL || mark_compute(SECRET, &in, mark) != 0)
		return false;
	memcpy(e, p->headers.entries, (size_t)n * sizeof(*e));
	e[n].key = amqp_cstring_bytes("hsbridge-mark");
	e[n].value.kind = AMQP_FIELD_KIND_UTF8;
	e[n].value.value.bytes = amqp_cstring_bytes(mark);
	p->headers.entries = e;
	p->headers.num_entries = n + 1;
	return true;
}

/* As trusted_attempts in bridge_relay.c: the count counts only under a mark
 * that verifies, which only a sealed table has; a sealed one whose first
 * hsbridge-mark is the seal always verifies. */
static void check_trust(const amqp_basic_properties_t *p, bool sealed, bool seal_first)
{
	static char *const previous[] = {"old-secret"};
	struct mark_input in = {.sub = "fuzz", .body = "{}", .len = 2};
	const char *mark = NULL;
	size_t mark_len = 0;
	char first[64];
	bool trusted;

	if (!copy_has_bookkeeping(p))
		return;
	copy_first_failure_at(p, first, sizeof(first));
	in.attempts = copy_attempts(p);
	in.first_failure_at = first;
	trusted = in.attempts > 0 && copy_header_text(p, "hsbridge-mark", &mark, &mark_len) &&
		  mark_verify(mark, mark_len, SECRET, previous, 1, &in);
	if (trusted)
		FUZZ_CHECK(sealed);
	if (sealed && seal_first && in.attempts > 0)
		FUZZ_CHECK(trusted);
}

static bool model_bookkeeping(amqp_bytes_t k)
{
	static const char *const prefixes[] = {"x-death", "x-first-death-", "x-last-death-",
					       "x-delivery-count", "hsbridge-"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (k.len >= strlen(prefixes[i]) &&
		    memcmp(k.bytes, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

static bool is_mark(amqp_bytes_t k)
{
	static const char *const marks[] = {"hsbridge-attempts",      "hsbridge-first-failure-at",
					    "hsbridge-last-status",   "hsbridge-last-error",
					    "hsbridge-parked-reason", "hsbridge-parked-at",
					    "hsbridge-copy",	      "hsbridge-mark"};

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (k.len == strlen(marks[i]) && memcmp(k.bytes, marks[i], k.len) == 0)
			return true;
	}
	return false;
}

/* The copy's one hsbridge-first-failure-at is the one the caller passed,
 * else now. */
static void check_first_failure(const amqp_basic_properties_t *copy, const char *want)
{
	const amqp_field_value_t *got = NULL;

	for (int i = 0; i < copy->headers.num_entries; i++) {
		amqp_bytes_t k = copy->headers.entries[i].key;

		if (k.len == strlen("hsbridge-first-failure-at") &&
		    memcmp(k.bytes, "hsbridge-first-failure-at", k.len) == 0) {
			FUZZ_CHECK(got == NULL);
			got = &copy->headers.entries[i].value;
		}
	}
	FUZZ_CHECK(got != NULL && got->kind == AMQP_FIELD_KIND_UTF8);
	FUZZ_CHECK(got->value.bytes.len == strlen(want) &&
		   memcmp(got->value.bytes.bytes, want, strlen(want)) == 0);
}

/* A copy keeps the original's other headers in order, drops its
 * bookkeeping, and adds only its own marks. */
static void check_copy(const amqp_basic_properties_t *orig, unsigned attempts, uint8_t flags)
{
	struct copy_marks m = {.attempts = attempts,
			       .last_status = 503,
			       .last_error = "HTTP 503",
			       .reason = attempts > 2 ? "retries_exhausted" : NULL,
			       .now = NOW,
			       .seq = attempts,
			       .message_id = "m",
			       .mark = flags & 8 ? "a-mark" : NULL,
			       .drop_headers = (flags & 16) != 0};
	int n_orig = (orig->_flags & AMQP_BASIC_HEADERS_FLAG) && !m.drop_headers
			 ? orig->headers.num_entries
			 : 0;
	struct copy_props c;
	const amqp_table_entry_t *out;
	char first[64];
	int kept = 0;

	if ((flags & 32) && copy_first_failure_at(orig, first, sizeof(first)))
		m.first_failure_at = first;

	if (copy_build(orig, &m, &c) != 0)
		FUZZ_FAIL("copy_build failed");
	FUZZ_CHECK(c.p._flags & AMQP_BASIC_HEADERS_FLAG);
	FUZZ_CHECK(!(c.p._flags & (AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_USER_ID_FLAG)));
	FUZZ_CHECK(c.p.delivery_mode == AMQP_DELIVERY_PERSISTENT);
	for (int i = 0; i < n_orig; i++) {
		const amqp_table_entry_t *e = &orig->headers.entries[i];

		if (copy_header_is_bookkeeping(e->key.bytes, e->key.len))
			continue;
		FUZZ_CHECK(kept < c.p.headers.num_entries);
		out = &c.p.headers.entries[kept++];
		FUZZ_CHECK(out->key.len == e->key.len && out->key.bytes == e->key.bytes);
		FUZZ_CHECK(out->value.kind == e->value.kind);
		FUZZ_CHECK(memcmp(&out->value.value, &e->value.value, sizeof(e->value.value)) == 0);
	}
	for (int i = kept; i < c.p.headers.num_entries; i++)
		FUZZ_CHECK(is_mark(c.p.headers.entries[i].key));
	FUZZ_CHECK(c.p._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
	FUZZ_CHECK((orig->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
		       ? c.p.message_id.bytes == orig->message_id.bytes
		       : c.p.message_id.bytes == m.message_id);
	if (attempts > 0)
		check_first_failure(&c.p, m.first_failure_at != NULL ? m.first_failure_at : m.now);
	copy_props_free(&c);
}

static bool same_value(const amqp_field_value_t *a, const amqp_field_value_t *b, bool *pruned);

static bool same_bytes(amqp_bytes_t a, amqp_bytes_t b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.bytes, b.bytes, a.len) == 0);
}

/* dst is src without its empty-named entries (*pruned set when there were
 * some), nothing shared with src. */
static bool same_table(const amqp_table_t *src, const amqp_table_t *dst, bool *pruned)
{
	int j = 0;

	for (int i = 0; i < src->num_entries; i++) {
		const amqp_table_entry_t *e = &src->entries[i];
		const amqp_table_entry_t *f;

		if (e->key.len == 0) {
			*pruned = true;
			continue;
		}
		if (j >= dst->num_entries)
			return false;
		f = &dst->entries[j++];
		if (!same_bytes(e->key, f->key) || f->key.bytes == e->key.bytes ||
		    !same_value(&e->value, &f->value, pruned))
			return false;
	}
	return j == dst->num_entries;
}

static bool same_value(const amqp_field_value_t *a, const amqp_field_value_t *b, bool *pruned)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		return same_bytes(a->value.bytes, b->value.bytes) &&
		       (a->value.bytes.len == 0 || a->value.bytes.bytes != b->value.bytes.bytes);
	case AMQP_FIELD_KIND_TABLE:
		return same_table(&a->value.table, &b->value.table, pruned);
	case AMQP_FIELD_KIND_ARRAY:
		if (a->value.array.num_entries != b->value.array.num_entries)
			return false;
		for (int i = 0; i < a->value.array.num_entries; i++) {
			if (!same_value(&a->value.array.entries[i], &b->value.array.entries[i],
					pruned))
				return false;
		}
		return true;
	case AMQP_FIELD_KIND_BOOLEAN:
		return a->value.boolean == b->value.boolean;
	case AMQP_FIELD_KIND_I8:
	case AMQP_FIELD_KIND_U8:
		return a->value.u8 == b->value.u8;
	case AMQP_FIELD_KIND_I16:
	case AMQP_FIELD_KIND_U16:
		return a->value.u16 == b->value.u16;
	case AMQP_FIELD_KIND_I32:
	case AMQP_FIELD_KIND_U32:
		return a->value.u32 == b->value.u32;
	case AMQP_FIELD_KIND_F32:
		return memcmp(&a->value.f32, &b->value.f32, sizeof(a->value.f32)) == 0;
	case AMQP_FIELD_KIND_F64:
		return memcmp(&a->value.f64, &b->value.f64, sizeof(a->value.f64)) == 0;
	case AMQP_FIELD_KIND_DECIMAL:
		return a->value.decimal.decimals == b->value.decimal.decimals &&
		       a->value.decimal.value == b->value.decimal.value;
	case AMQP_FIELD_KIND_VOID:
		return true;
	default: /* I64, U64, TIMESTAMP */
		return a->value.u64 == b->value.u64;
	}
}

static void check_props_copy(const amqp_basic_properties_t *p)
{
	amqp_pool_t pool;
	amqp_basic_properties_t c;
	unsigned dropped = 0;
	bool pruned = false;

	init_amqp_pool(&pool, 4096);
	memset(&c, 0, sizeof(c));
	if (brk_props_copy(p, &c, &pool, &dropped) == 0) {
		FUZZ_CHECK(c._flags == p->_flags);
		if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
			FUZZ_CHECK(same_table(&p->headers, &c.headers, &pruned));
			FUZZ_CHECK(((dropped & BRK_DROPPED_EMPTY_NAME) != 0) == pruned);
		}
		if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
			FUZZ_CHECK(same_bytes(p->message_id, c.message_id));
	}
	empty_amqp_pool(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"hsbridge-attempts", "hsbridge-copy", "x-death", ""};
	struct dec d = {.p = data, .n = size};
	amqp_basic_properties_t p;
	uint8_t flags = u8(&d);
	unsigned attempts = u8(&d);
	unsigned long long max = le(&d, 8);
	bool sealed, seal_first;

	memset(&p, 0, sizeof(p));
	if (flags & 1)
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
	if (flags & 2) {
		p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		p.message_id = amqp_cstring_bytes("orig-id");
	}
	table_of(&d, &p.headers, 0, 32);
	seal_first = model_find(&p, "hsbridge-mark") == NULL;
	sealed = (flags & 4) && seal(&d, &p);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		FUZZ_CHECK(copy_header_uint(&p, keys[i], max) == model_uint(&p, keys[i], max));
		FUZZ_CHECK(copy_header_uint(&p, keys[i], UINT64_MAX) ==
			   model_uint(&p, keys[i], UINT64_MAX));
	}
	FUZZ_CHECK(copy_attempts(&p) <= ATTEMPTS_BOUND);
	for (int i = 0; i < p.headers.num_entries; i++) {
		amqp_bytes_t k = p.headers.entries[i].key;

		FUZZ_CHECK(copy_header_is_bookkeeping(k.bytes, k.len) == model_bookkeeping(k));
	}
	check_text_readers(&p);
	check_trust(&p, sealed, seal_first);
	check_copy(&p, attempts, flags);
	check_props_copy(&p);
	for (size_t i = 0; i < d.n_blocks; i++)
		free(d.blocks[i]);
	return 0;
}
