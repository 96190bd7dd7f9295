/* wire: the encoded size of AMQP 0-9-1 properties (AMQP 0-9-1 section
 * 4.2.5 and 4.2.6 for the frame and its content header; the field table
 * kinds as rabbitmq-c encodes them). */
#include "hsbridge/wire.h"

#include <stdint.h>
#include <string.h>

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

static unsigned char *put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)(v >> 16)), (uint16_t)v);
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)(v >> 32)), (uint32_t)v);
}

/* Frame header: kind, channel, payload size. */
static unsigned char *frame_start(unsigned char *p, uint8_t kind, uint16_t ch, size_t size)
{
	*p = kind;
	return put32(put16(p + 1, ch), (uint32_t)size);
}

static size_t method_frame_size(const amqp_basic_publish_t *m)
{
	/* method id, reserved short, two short strings, the bits */
	return add(WIRE_FRAME_OVERHEAD + 4 + 2 + 1,
		   add(shortstr(m->exchange), shortstr(m->routing_key)));
}

size_t wire_publish_size(size_t frame_max, const amqp_basic_publish_t *m,
			 const amqp_basic_properties_t *p, size_t len)
{
	size_t chunk, frames;

	if (frame_max <= WIRE_FRAME_OVERHEAD || frame_max > UINT32_MAX)
		return WIRE_UNENCODABLE;
	chunk = frame_max - WIRE_FRAME_OVERHEAD;
	frames = len / chunk + (len % chunk != 0);
	if (frames > (SIZE_MAX - len) / WIRE_FRAME_OVERHEAD)
		return WIRE_UNENCODABLE;
	return add(add(method_frame_size(m), wire_header_frame_size(p)),
		   len + frames * WIRE_FRAME_OVERHEAD);
}

size_t wire_encode_publish(unsigned char *out, size_t cap, uint16_t ch, size_t frame_max,
			   const amqp_basic_publish_t *m, const amqp_basic_properties_t *p,
			   const void *body, size_t len)
{
	size_t need = wire_publish_size(frame_max, m, p, len);
	size_t method = method_frame_size(m);
	size_t head = wire_header_frame_size(p);
	unsigned char *at = out, *payload;
	int n;

	if (need == WIRE_UNENCODABLE || need > cap || head > frame_max || method > frame_max)
		return WIRE_UNENCODABLE;
	/* The method: its id, then rabbitmq-c's encoding of its arguments. */
	payload = at + 7;
	n = amqp_encode_method(
	    AMQP_BASIC_PUBLISH_METHOD, (void *)m,
	    (amqp_bytes_t){.len = method - WIRE_FRAME_OVERHEAD - 4, .bytes = payload + 4});
	if (n < 0)
		return WIRE_UNENCODABLE;
	put32(payload, AMQP_BASIC_PUBLISH_METHOD);
	frame_start(at, AMQP_FRAME_METHOD, ch, 4 + (size_t)n);
	at = payload + 4 + n;
	*at++ = AMQP_FRAME_END;
	/* The content header: class, weight, body size, then the flags and
	 * properties as rabbitmq-c encodes them. */
	payload = at + 7;
	n = amqp_encode_properties(
	    AMQP_BASIC_CLASS, (void *)p,
	    (amqp_bytes_t){.len = head - WIRE_FRAME_OVERHEAD - 12, .bytes = payload + 12});
	if (n < 0)
		return WIRE_UNENCODABLE;
	put64(put16(put16(payload, AMQP_BASIC_CLASS), 0), (uint64_t)len);
	frame_start(at, AMQP_FRAME_HEADER, ch, 12 + (size_t)n);
	at = payload + 12 + n;
	*at++ = AMQP_FRAME_END;
	/* The body, in frames of at most frame_max. */
	for (size_t off = 0, chunk = frame_max - WIRE_FRAME_OVERHEAD; off < len; off += chunk) {
		size_t part = len - off < chunk ? len - off : chunk;

		at = frame_start(at, AMQP_FRAME_BODY, ch, part);
		memcpy(at, (const char *)body + off, part);
		at += part;
		*at++ = AMQP_FRAME_END;
	}
	return (size_t)(at - out);
}
