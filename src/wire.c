/* wire: the encoded size of AMQP 0-9-1 properties (AMQP 0-9-1 section
 * 4.2.5 and 4.2.6 for the frame and its content header; the field table
 * kinds as rabbitmq-c encodes them). */
#include "hsbridge/wire.h"

#include <stdint.h>

/* Adds b to *a unless either is WIRE_UNENCODABLE or the sum would wrap. */
static size_t add(size_t a, size_t b)
{
	if (a == WIRE_UNENCODABLE || b == WIRE_UNENCODABLE || a > SIZE_MAX - 1 - b)
		return WIRE_UNENCODABLE;
	return a + b;
}

static size_t value_size(const amqp_field_value_t *v);

static size_t array_size(const amqp_array_t *a)
{
	size_t n = 4;

	for (int i = 0; i < a->num_entries; i++)
		n = add(n, add(1, value_size(&a->entries[i])));
	return n;
}

/* The value after its one-byte kind. */
static size_t value_size(const amqp_field_value_t *v)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_VOID:
		return 0;
	case AMQP_FIELD_KIND_BOOLEAN:
	case AMQP_FIELD_KIND_I8:
	case AMQP_FIELD_KIND_U8:
		return 1;
	case AMQP_FIELD_KIND_I16:
	case AMQP_FIELD_KIND_U16:
		return 2;
	case AMQP_FIELD_KIND_I32:
	case AMQP_FIELD_KIND_U32:
	case AMQP_FIELD_KIND_F32:
		return 4;
	case AMQP_FIELD_KIND_DECIMAL:
		return 5;
	case AMQP_FIELD_KIND_I64:
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_F64:
	case AMQP_FIELD_KIND_TIMESTAMP:
		return 8;
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		return add(4, v->value.bytes.len);
	case AMQP_FIELD_KIND_ARRAY:
		return array_size(&v->value.array);
	case AMQP_FIELD_KIND_TABLE:
		return wire_table_size(&v->value.table);
	default:
		return WIRE_UNENCODABLE;
	}
}

size_t wire_table_size(const amqp_table_t *t)
{
	size_t n = 4;

	for (int i = 0; i < t->num_entries; i++) {
		const amqp_table_entry_t *e = &t->entries[i];

		if (e->key.len > 255)
			return WIRE_UNENCODABLE;
		n = add(n, add(2 + e->key.len, value_size(&e->value)));
	}
	return n;
}

static size_t shortstr(amqp_bytes_t b)
{
	return b.len > 255 ? WIRE_UNENCODABLE : 1 + b.len;
}

size_t wire_header_frame_size(const amqp_basic_properties_t *p)
{
	const amqp_flags_t f = p->_flags;
	/* class id, weight, body size, one flag word (basic has 14 flags) */
	size_t n = WIRE_FRAME_OVERHEAD + 2 + 2 + 8 + 2;

	if (f & AMQP_BASIC_CONTENT_TYPE_FLAG)
		n = add(n, shortstr(p->content_type));
	if (f & AMQP_BASIC_CONTENT_ENCODING_FLAG)
		n = add(n, shortstr(p->content_encoding));
	if (f & AMQP_BASIC_HEADERS_FLAG)
		n = add(n, wire_table_size(&p->headers));
	if (f & AMQP_BASIC_DELIVERY_MODE_FLAG)
		n = add(n, 1);
	if (f & AMQP_BASIC_PRIORITY_FLAG)
		n = add(n, 1);
	if (f & AMQP_BASIC_CORRELATION_ID_FLAG)
		n = add(n, shortstr(p->correlation_id));
	if (f & AMQP_BASIC_REPLY_TO_FLAG)
		n = add(n, shortstr(p->reply_to));
	if (f & AMQP_BASIC_EXPIRATION_FLAG)
		n = add(n, shortstr(p->expiration));
	if (f & AMQP_BASIC_MESSAGE_ID_FLAG)
		n = add(n, shortstr(p->message_id));
	if (f & AMQP_BASIC_TIMESTAMP_FLAG)
		n = add(n, 8);
	if (f & AMQP_BASIC_TYPE_FLAG)
		n = add(n, shortstr(p->type));
	if (f & AMQP_BASIC_USER_ID_FLAG)
		n = add(n, shortstr(p->user_id));
	if (f & AMQP_BASIC_APP_ID_FLAG)
		n = add(n, shortstr(p->app_id));
	if (f & AMQP_BASIC_CLUSTER_ID_FLAG)
		n = add(n, shortstr(p->cluster_id));
	return n;
}
