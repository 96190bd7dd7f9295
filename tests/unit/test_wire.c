/* Unit tests for wire.c: the size it computes is exactly what rabbitmq-c
 * encodes (amqp_encode_properties), for every property and every field
 * kind, nested ones included; what rabbitmq-c cannot encode is
 * WIRE_UNENCODABLE. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "hsbridge/wire.h"

/* The frame rabbitmq-c would send: its encoded properties (flags word
 * included) plus frame header, class, weight, body size and frame end. */
static size_t encoded_frame(amqp_basic_properties_t *p)
{
	static char buf[1 << 20];
	amqp_bytes_t out = {.len = sizeof(buf), .bytes = buf};
	int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, out);

	assert_true(n > 0);
	return (size_t)n + 7 + 12 + 1;
}

static amqp_field_value_t val(uint8_t kind)
{
	amqp_field_value_t v;

	memset(&v, 0, sizeof(v));
	v.kind = kind;
	return v;
}

static void every_property_alone_and_together(void **state)
{
	static const amqp_flags_t flags[] = {
	    AMQP_BASIC_CONTENT_TYPE_FLAG,   AMQP_BASIC_CONTENT_ENCODING_FLAG,
	    AMQP_BASIC_HEADERS_FLAG,	    AMQP_BASIC_DELIVERY_MODE_FLAG,
	    AMQP_BASIC_PRIORITY_FLAG,	    AMQP_BASIC_CORRELATION_ID_FLAG,
	    AMQP_BASIC_REPLY_TO_FLAG,	    AMQP_BASIC_EXPIRATION_FLAG,
	    AMQP_BASIC_MESSAGE_ID_FLAG,	    AMQP_BASIC_TIMESTAMP_FLAG,
	    AMQP_BASIC_TYPE_FLAG,	    AMQP_BASIC_USER_ID_FLAG,
	    AMQP_BASIC_APP_ID_FLAG,	    AMQP_BASIC_CLUSTER_ID_FLAG,
	};
	amqp_table_entry_t h[1];
	amqp_basic_properties_t p;
	amqp_flags_t all = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.content_type = amqp_cstring_bytes("application/json");
	p.content_encoding = amqp_cstring_bytes("gzip");
	p.correlation_id = amqp_cstring_bytes("corr-1");
	p.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
	p.expiration = amqp_cstring_bytes("60000");
	p.message_id = amqp_cstring_bytes("evt_1");
	p.type = amqp_cstring_bytes("document.uploaded");
	p.user_id = amqp_cstring_bytes("guest");
	p.app_id = amqp_cstring_bytes("docs");
	p.cluster_id = amqp_cstring_bytes("");
	h[0].key = amqp_cstring_bytes("k");
	h[0].value = val(AMQP_FIELD_KIND_UTF8);
	h[0].value.value.bytes = amqp_cstring_bytes("v");
	p.headers.num_entries = 1;
	p.headers.entries = h;
	p._flags = 0;
	assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		p._flags = flags[i];
		assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
		all |= flags[i];
	}
	p._flags = all;
	assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
}

static void every_field_kind_nested_in_arrays_and_tables(void **state)
{
	static const uint8_t scalars[] = {
	    AMQP_FIELD_KIND_BOOLEAN, AMQP_FIELD_KIND_I8,	AMQP_FIELD_KIND_U8,
	    AMQP_FIELD_KIND_I16,     AMQP_FIELD_KIND_U16,	AMQP_FIELD_KIND_I32,
	    AMQP_FIELD_KIND_U32,     AMQP_FIELD_KIND_I64,	AMQP_FIELD_KIND_U64,
	    AMQP_FIELD_KIND_F32,     AMQP_FIELD_KIND_F64,	AMQP_FIELD_KIND_DECIMAL,
	    AMQP_FIELD_KIND_VOID,    AMQP_FIELD_KIND_TIMESTAMP, AMQP_FIELD_KIND_UTF8,
	    AMQP_FIELD_KIND_BYTES,
	};
	enum { N = sizeof(scalars) / sizeof(scalars[0]) };
	amqp_field_value_t arr[N];
	amqp_table_entry_t inner[N], outer[N + 2];
	char keys[N][8];
	amqp_basic_properties_t p;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		arr[i] = val(scalars[i]);
		if (scalars[i] == AMQP_FIELD_KIND_UTF8 || scalars[i] == AMQP_FIELD_KIND_BYTES)
			arr[i].value.bytes = amqp_cstring_bytes("some bytes");
		keys[i][0] = (char)('a' + i);
		keys[i][1] = '\0';
		inner[i].key = amqp_cstring_bytes(keys[i]);
		inner[i].value = arr[i];
		outer[i] = inner[i];
	}
	outer[N].key = amqp_cstring_bytes("array");
	outer[N].value = val(AMQP_FIELD_KIND_ARRAY);
	outer[N].value.value.array.num_entries = N;
	outer[N].value.value.array.entries = arr;
	outer[N + 1].key = amqp_cstring_bytes("table");
	outer[N + 1].value = val(AMQP_FIELD_KIND_TABLE);
	outer[N + 1].value.value.table.num_entries = N;
	outer[N + 1].value.value.table.entries = inner;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.entries = outer;
	for (int n = 0; n <= N + 2; n++) {
		p.headers.num_entries = n;
		assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
	}
}

static void a_large_header_is_counted_to_the_byte(void **state)
{
	amqp_table_entry_t h;
	amqp_basic_properties_t p;
	char *pad = malloc(131000);

	(void)state;
	assert_non_null(pad);
	memset(pad, 'p', 131000);
	h.key = amqp_cstring_bytes("pad");
	h.value = val(AMQP_FIELD_KIND_UTF8);
	h.value.value.bytes.bytes = pad;
	h.value.value.bytes.len = 131000;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.num_entries = 1;
	p.headers.entries = &h;
	/* 8 frame + 14 fixed + 4 table length + 1+3 key + 1 kind + 4+131000 */
	assert_int_equal(wire_header_frame_size(&p), 131035);
	assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
	free(pad);
}

static void what_rabbitmq_c_cannot_encode_is_unencodable(void **state)
{
	char long_text[300];
	amqp_table_entry_t h;
	amqp_basic_properties_t p;

	(void)state;
	memset(long_text, 'k', sizeof(long_text));
	memset(&p, 0, sizeof(p));
	/* A short string over 255 bytes. */
	p._flags = AMQP_BASIC_TYPE_FLAG;
	p.type.bytes = long_text;
	p.type.len = 256;
	assert_int_equal(wire_header_frame_size(&p), WIRE_UNENCODABLE);
	p.type.len = 255;
	assert_int_equal(wire_header_frame_size(&p), encoded_frame(&p));
	/* A header key over 255 bytes. */
	h.key.bytes = long_text;
	h.key.len = 256;
	h.value = val(AMQP_FIELD_KIND_I8);
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.num_entries = 1;
	p.headers.entries = &h;
	assert_int_equal(wire_header_frame_size(&p), WIRE_UNENCODABLE);
	/* A kind rabbitmq-c does not know. */
	h.key = amqp_cstring_bytes("k");
	h.value = val('?');
	assert_int_equal(wire_header_frame_size(&p), WIRE_UNENCODABLE);
	/* A length that would wrap size_t. */
	h.value = val(AMQP_FIELD_KIND_BYTES);
	h.value.value.bytes.len = SIZE_MAX - 2;
	assert_int_equal(wire_header_frame_size(&p), WIRE_UNENCODABLE);
}

/* Feeds bytes to rabbitmq-c's own frame decoder (amqp_handle_input) and
 * returns the next whole frame; the decoder's view is what the broker
 * would read. */
static size_t next_frame(amqp_connection_state_t c, const unsigned char *at, size_t n,
			 amqp_frame_t *f)
{
	size_t used = 0;

	do {
		int r = amqp_handle_input(
		    c, (amqp_bytes_t){.len = n - used, .bytes = (void *)(at + used)}, f);

		assert_true(r > 0);
		used += (size_t)r;
	} while (f->frame_type == 0 && used < n);
	assert_int_not_equal(f->frame_type, 0);
	return used;
}

static void a_publish_encodes_as_rabbitmq_c_decodes_it(void **state)
{
	static const size_t frame_max = 4096, chunk = 4096 - 8;
	static const size_t lens[] = {0, 1, 4087, 4088, 4089, 3 * 4088 + 5};
	static unsigned char body[3 * 4088 + 5], out[1 << 16];
	amqp_table_entry_t hdr[2] = {
	    {.key = amqp_cstring_bytes("sub"),
	     .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("clinic")}},
	    {.key = amqp_cstring_bytes("outcome"),
	     .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("parked")}},
	};
	amqp_basic_properties_t p = {
	    ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		      AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG,
	    .content_type = amqp_cstring_bytes("application/json"),
	    .delivery_mode = 2,
	    .timestamp = 1764666000,
	    .headers = {.num_entries = 2, .entries = hdr},
	};
	amqp_basic_publish_t m = {.exchange = amqp_cstring_bytes("ex"),
				  .routing_key = amqp_cstring_bytes("hsbridge.attempts"),
				  .mandatory = 1};

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)(i * 7 + 1);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		size_t len = lens[k], at = 0, got = 0;
		size_t n = wire_encode_publish(out, sizeof(out), 9, frame_max, &m, &p, body, len);
		amqp_connection_state_t c = amqp_new_connection();
		amqp_frame_t f;

		assert_int_equal(n, wire_publish_size(frame_max, &m, &p, len));
		/* one byte short of room: nothing */
		assert_int_equal(wire_encode_publish(out, n - 1, 9, frame_max, &m, &p, body, len),
				 WIRE_UNENCODABLE);
		assert_int_equal(
		    wire_encode_publish(out, sizeof(out), 9, frame_max, &m, &p, body, len), n);
		at += next_frame(c, out + at, n - at, &f);
		assert_int_equal(f.frame_type, AMQP_FRAME_METHOD);
		assert_int_equal(f.channel, 9);
		assert_int_equal(f.payload.method.id, AMQP_BASIC_PUBLISH_METHOD);
		{
			amqp_basic_publish_t *d = f.payload.method.decoded;

			assert_memory_equal(d->exchange.bytes, "ex", 2);
			assert_int_equal(d->routing_key.len, strlen("hsbridge.attempts"));
			assert_true(d->mandatory);
			assert_false(d->immediate);
		}
		at += next_frame(c, out + at, n - at, &f);
		assert_int_equal(f.frame_type, AMQP_FRAME_HEADER);
		assert_int_equal(f.channel, 9);
		assert_int_equal(f.payload.properties.body_size, len);
		{
			amqp_basic_properties_t *d = f.payload.properties.decoded;

			assert_int_equal(d->_flags, p._flags);
			assert_int_equal(d->timestamp, p.timestamp);
			assert_int_equal(d->delivery_mode, 2);
			assert_int_equal(d->headers.num_entries, 2);
			assert_memory_equal(d->headers.entries[1].value.value.bytes.bytes, "parked",
					    6);
		}
		while (got < len) {
			at += next_frame(c, out + at, n - at, &f);
			assert_int_equal(f.frame_type, AMQP_FRAME_BODY);
			assert_int_equal(f.channel, 9);
			assert_true(f.payload.body_fragment.len <= chunk);
			assert_true(f.payload.body_fragment.len == chunk ||
				    got + f.payload.body_fragment.len == len);
			assert_memory_equal(f.payload.body_fragment.bytes, body + got,
					    f.payload.body_fragment.len);
			got += f.payload.body_fragment.len;
		}
		assert_int_equal(at, n);
		amqp_destroy_connection(c);
	}
	/* a header frame over frame_max, a name over 255 bytes: nothing */
	assert_int_equal(wire_encode_publish(out, sizeof(out), 1, 64, &m, &p, body, 1),
			 WIRE_UNENCODABLE);
	{
		char long_name[300];

		memset(long_name, 'x', sizeof(long_name) - 1);
		long_name[sizeof(long_name) - 1] = 0;
		m.routing_key = amqp_cstring_bytes(long_name);
		assert_int_equal(wire_publish_size(frame_max, &m, &p, 1), WIRE_UNENCODABLE);
		assert_int_equal(
		    wire_encode_publish(out, sizeof(out), 1, frame_max, &m, &p, body, 1),
		    WIRE_UNENCODABLE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_property_alone_and_together),
	    cmocka_unit_test(every_field_kind_nested_in_arrays_and_tables),
	    cmocka_unit_test(a_large_header_is_counted_to_the_byte),
	    cmocka_unit_test(what_rabbitmq_c_cannot_encode_is_unencodable),
	    cmocka_unit_test(a_publish_encodes_as_rabbitmq_c_decodes_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
