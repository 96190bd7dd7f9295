/* copy: headers and properties of the copies the bridge and replay publish. */
#include "hsbridge/copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/broker.h"

/* Properties a copy keeps from its original. Not expiration (the copy could
 * expire in a queue), not user_id (the broker refuses another user's). */
#define KEPT_FLAGS                                                                                 \
	(AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |                         \
	 AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |    \
	 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG |           \
	 AMQP_BASIC_APP_ID_FLAG)

/* At most this many marks are added to the original's headers. */
#define MAX_MARKS 10

bool copy_header_is_bookkeeping(const char *key, size_t len)
{
	static const char *const prefixes[] = {"x-death", "x-first-death-", "x-last-death-",
					       "x-delivery-count", "hsbridge-"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (len >= n && memcmp(key, prefixes[i], n) == 0)
			return true;
	}
	return false;
}

static const amqp_field_value_t *find_header(const amqp_basic_properties_t *p, const char *key)
{
	size_t n = strlen(key);

	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return NULL;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len == n && memcmp(e->key.bytes, key, n) == 0)
			return &e->value;
	}
	return NULL;
}

static long long signed_value(const amqp_field_value_t *v)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8:
		return v->value.i8;
	case AMQP_FIELD_KIND_U8:
		return v->value.u8;
	case AMQP_FIELD_KIND_I16:
		return v->value.i16;
	case AMQP_FIELD_KIND_U16:
		return v->value.u16;
	case AMQP_FIELD_KIND_I32:
		return v->value.i32;
	case AMQP_FIELD_KIND_U32:
		return v->value.u32;
	case AMQP_FIELD_KIND_I64:
		return v->value.i64;
	default:
		return 0;
	}
}

unsigned long long copy_header_uint(const amqp_basic_properties_t *p, const char *key,
				    unsigned long long max)
{
	const amqp_field_value_t *v = find_header(p, key);
	long long n;

	if (!v)
		return 0;
	if (v->kind == AMQP_FIELD_KIND_U64)
		return v->value.u64 > max ? max : v->value.u64;
	n = signed_value(v);
	if (n < 0)
		return 0;
	return (unsigned long long)n > max ? max : (unsigned long long)n;
}

unsigned copy_attempts(const amqp_basic_properties_t *p)
{
	return (unsigned)copy_header_uint(p, "hsbridge-attempts", 1000);
}

bool copy_header_text(const amqp_basic_properties_t *p, const char *key, const char **s,
		      size_t *len)
{
	const amqp_field_value_t *v = find_header(p, key);

	if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
		return false;
	*s = v->value.bytes.bytes;
	*len = v->value.bytes.len;
	return true;
}

bool copy_first_failure_at(const amqp_basic_properties_t *p, char *buf, size_t len)
{
	const amqp_field_value_t *first = find_header(p, "hsbridge-first-failure-at");

	if (first && first->kind == AMQP_FIELD_KIND_UTF8 && first->value.bytes.len < len) {
		snprintf(buf, len, "%.*s", (int)first->value.bytes.len,
			 (const char *)first->value.bytes.bytes);
		return true;
	}
	if (len > 0)
		buf[0] = '\0';
	return false;
}

bool copy_has_bookkeeping(const amqp_basic_properties_t *p)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return false;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];

		if (e->key.len >= 9 && memcmp(e->key.bytes, "hsbridge-", 9) == 0)
			return true;
	}
	return false;
}

static int add_marks(const struct copy_marks *m, struct copy_props *c, int n)
{
	amqp_table_entry_t *e = c->entries;

	if (m->attempts > 0) {
		e[n++] = brk_entry_i64("hsbridge-attempts", m->attempts);
		e[n++] = brk_entry_str("hsbridge-first-failure-at",
				       m->first_failure_at ? m->first_failure_at
							   : (m->now ? m->now : ""));
		e[n++] = brk_entry_i64("hsbridge-last-status", m->last_status);
	}
	/* A replay seals attempts 0: the bridge made this copy too. */
	if (m->mark)
		e[n++] = brk_entry_str("hsbridge-mark", m->mark);
	/* For an invalid payload this says what is wrong with it. */
	if (m->attempts > 0 || (m->last_error && m->last_error[0]))
		e[n++] = brk_entry_str("hsbridge-last-error", m->last_error ? m->last_error : "");
	if (m->reason) {
		e[n++] = brk_entry_str("hsbridge-parked-reason", m->reason);
		e[n++] = brk_entry_str("hsbridge-parked-at", m->now ? m->now : "");
	}
	if (m->seq > 0)
		e[n++] = brk_entry_i64("hsbridge-copy", (int64_t)m->seq);
	return n;
}

int copy_build(const amqp_basic_properties_t *orig, const struct copy_marks *m,
	       struct copy_props *out)
{
	int n_orig = (orig->_flags & AMQP_BASIC_HEADERS_FLAG) && !m->drop_headers
			 ? orig->headers.num_entries
			 : 0;
	amqp_basic_properties_t *p = &out->p;
	int n = 0;

	memset(out, 0, sizeof(*out));
	out->entries = calloc((size_t)n_orig + MAX_MARKS, sizeof(*out->entries));
	if (!out->entries)
		return -1;
	for (int i = 0; i < n_orig; i++) {
		const amqp_table_entry_t *e = &orig->headers.entries[i];

		if (!copy_header_is_bookkeeping(e->key.bytes, e->key.len))
			out->entries[n++] = *e;
	}
	n = add_marks(m, out, n);

	*p = *orig;
	p->_flags =
	    (orig->_flags & KEPT_FLAGS) | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
	p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p->headers.num_entries = n;
	p->headers.entries = out->entries;
	if (m->type) {
		p->_flags |= AMQP_BASIC_TYPE_FLAG;
		p->type = amqp_cstring_bytes(m->type);
	}
	if (m->message_id && !(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)) {
		p->_flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		p->message_id = amqp_cstring_bytes(m->message_id);
	}
	return 0;
}

void copy_props_free(struct copy_props *c)
{
	free(c->entries);
	c->entries = NULL;
}
