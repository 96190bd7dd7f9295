/* broker_read: a message's content (header and body frames) after its
 * basic.deliver, basic.get-ok or basic.return, read without rabbitmq-c's
 * amqp_read_message. That one clones the decoded properties with
 * amqp_basic_properties_clone, and rabbitmq-c's table clone refuses an entry
 * whose name is empty ("invalid parameter") although its decoder accepts
 * one: a single message published with such a header dropped the
 * connection at every redelivery. Here the properties are copied by
 * brk_props_copy, which leaves such entries out and says so. */
#include "hsbridge/broker.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "broker_int.h"

/* The state every copy step shares. */
struct props_copy {
	amqp_pool_t *pool;
	unsigned dropped; /* BRK_DROPPED_* */
};

static int copy_value(struct props_copy *c, const amqp_field_value_t *src, amqp_field_value_t *dst,
		      int depth);

/* A string into the pool; an empty one points nowhere. */
static int copy_bytes(struct props_copy *c, amqp_bytes_t src, amqp_bytes_t *dst)
{
	if (src.len == 0) {
		*dst = amqp_empty_bytes;
		return 0;
	}
	amqp_pool_alloc_bytes(c->pool, src.len, dst);
	if (!dst->bytes)
		return -1;
	memcpy(dst->bytes, src.bytes, src.len);
	return 0;
}

/* Whether v, found at depth, would nest deeper than BRK_PROPS_MAX_DEPTH:
 * then it is left out, and said so in c. */
static bool too_deep(struct props_copy *c, const amqp_field_value_t *v, int depth)
{
	if ((v->kind != AMQP_FIELD_KIND_TABLE && v->kind != AMQP_FIELD_KIND_ARRAY) ||
	    depth < BRK_PROPS_MAX_DEPTH)
		return false;
	c->dropped |= BRK_DROPPED_TOO_DEEP;
	return true;
}

/* n entries of size bytes for a copy of src's, in c's pool: 1 when *out
 * got them, 0 when there are none to copy (*out NULL), -1 out of memory. */
static int alloc_entries(struct props_copy *c, int n, const void *src, size_t size, void **out)
{
	*out = NULL;
	if (n <= 0 || !src)
		return 0;
	*out = amqp_pool_alloc(c->pool, (size_t)n * size);
	return *out ? 1 : -1;
}

/* A table at depth (the headers are depth 1) without its entries whose
 * name is empty, and without values that would nest deeper than
 * BRK_PROPS_MAX_DEPTH. */
static int copy_table(struct props_copy *c, const amqp_table_t *src, amqp_table_t *dst, int depth)
{
	int n = 0;
	int rc;

	*dst = amqp_empty_table;
	rc = alloc_entries(c, src->num_entries, src->entries, sizeof(*dst->entries),
			   (void **)&dst->entries);
	if (rc <= 0)
		return rc;
	for (int i = 0; i < src->num_entries; i++) {
		const amqp_table_entry_t *e = &src->entries[i];

		if (e->key.len == 0) {
			c->dropped |= BRK_DROPPED_EMPTY_NAME;
			continue;
		}
		if (too_deep(c, &e->value, depth))
			continue;
		if (copy_bytes(c, e->key, &dst->entries[n].key) != 0 ||
		    copy_value(c, &e->value, &dst->entries[n].value, depth) != 0)
			return -1;
		n++;
	}
	dst->num_entries = n;
	return 0;
}

/* An array at depth, without values that would nest deeper than
 * BRK_PROPS_MAX_DEPTH. */
static int copy_array(struct props_copy *c, const amqp_array_t *src, amqp_array_t *dst, int depth)
{
	int rc = alloc_entries(c, src->num_entries, src->entries, sizeof(*dst->entries),
			       (void **)&dst->entries);

	dst->num_entries = 0;
	for (int i = 0; rc > 0 && i < src->num_entries; i++) {
		if (!too_deep(c, &src->entries[i], depth) &&
		    copy_value(c, &src->entries[i], &dst->entries[dst->num_entries++], depth) != 0)
			return -1;
	}
	return rc < 0 ? -1 : 0;
}

/* A value found in a container at depth. Kinds without pointers (numbers,
 * booleans, decimals, timestamps, void) are copied as they are. */
static int copy_value(struct props_copy *c, const amqp_field_value_t *src, amqp_field_value_t *dst,
		      int depth)
{
	*dst = *src;
	switch (src->kind) {
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		return copy_bytes(c, src->value.bytes, &dst->value.bytes);
	case AMQP_FIELD_KIND_TABLE:
		return copy_table(c, &src->value.table, &dst->value.table, depth + 1);
	case AMQP_FIELD_KIND_ARRAY:
		return copy_array(c, &src->value.array, &dst->value.array, depth + 1);
	default:
		return 0;
	}
}

/* The short strings of the basic class, each with the flag that says it is
 * there. */
static const struct {
	amqp_flags_t flag;
	size_t offset;
} strings[] = {
    {AMQP_BASIC_CONTENT_TYPE_FLAG, offsetof(amqp_basic_properties_t, content_type)},
    {AMQP_BASIC_CONTENT_ENCODING_FLAG, offsetof(amqp_basic_properties_t, content_encoding)},
    {AMQP_BASIC_CORRELATION_ID_FLAG, offsetof(amqp_basic_properties_t, correlation_id)},
    {AMQP_BASIC_REPLY_TO_FLAG, offsetof(amqp_basic_properties_t, reply_to)},
    {AMQP_BASIC_EXPIRATION_FLAG, offsetof(amqp_basic_properties_t, expiration)},
    {AMQP_BASIC_MESSAGE_ID_FLAG, offsetof(amqp_basic_properties_t, message_id)},
    {AMQP_BASIC_TYPE_FLAG, offsetof(amqp_basic_properties_t, type)},
    {AMQP_BASIC_USER_ID_FLAG, offsetof(amqp_basic_properties_t, user_id)},
    {AMQP_BASIC_APP_ID_FLAG, offsetof(amqp_basic_properties_t, app_id)},
    {AMQP_BASIC_CLUSTER_ID_FLAG, offsetof(amqp_basic_properties_t, cluster_id)},
};

int brk_props_copy(const amqp_basic_properties_t *src, amqp_basic_properties_t *dst,
		   amqp_pool_t *pool, unsigned *dropped)
{
	struct props_copy c = {.pool = pool};
	int rc = 0;

	*dst = *src;
	for (size_t i = 0; rc == 0 && i < sizeof(strings) / sizeof(strings[0]); i++) {
		const amqp_bytes_t *from =
		    (const amqp_bytes_t *)((const char *)src + strings[i].offset);
		amqp_bytes_t *to = (amqp_bytes_t *)((char *)dst + strings[i].offset);

		if (src->_flags & strings[i].flag)
			rc = copy_bytes(&c, *from, to);
		else
			*to = amqp_empty_bytes;
	}
	if (rc == 0 && (src->_flags & AMQP_BASIC_HEADERS_FLAG))
		rc = copy_table(&c, &src->headers, &dst->headers, 1);
	else if (rc == 0)
		dst->headers = amqp_empty_table;
	*dropped |= c.dropped;
	return rc == 0 ? 0 : -1;
}

const char *brk_dropped_text(unsigned dropped)
{
	switch (dropped & (BRK_DROPPED_EMPTY_NAME | BRK_DROPPED_TOO_DEEP)) {
	case BRK_DROPPED_EMPTY_NAME:
		return "an empty header name was dropped (rabbitmq-c cannot copy such a header)";
	case BRK_DROPPED_TOO_DEEP:
		return "header tables or arrays nested too deep were dropped";
	case BRK_DROPPED_EMPTY_NAME | BRK_DROPPED_TOO_DEEP:
		return "an empty header name and header tables or arrays nested too deep were "
		       "dropped";
	default:
		return "";
	}
}

static void read_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void read_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "reading a message: ");

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* The next frame of the message on ch, within BRK_LOOP_WAIT_MS. RabbitMQ
 * writes a message's frames together, so a frame of another channel
 * between them means the connection is out of step. */
static int next_frame(amqp_connection_state_t conn, uint16_t ch, amqp_frame_t *f, char *err,
		      size_t errlen)
{
	for (;;) {
		struct timeval tv = {.tv_sec = BRK_LOOP_WAIT_MS / 1000,
				     .tv_usec = (BRK_LOOP_WAIT_MS % 1000) * 1000};
		int r = amqp_simple_wait_frame_noblock(conn, f, &tv);

		if (r != AMQP_STATUS_OK) {
			read_err(err, errlen, "%s", amqp_error_string2(r));
			return -1;
		}
		if (f->frame_type == AMQP_FRAME_HEARTBEAT)
			continue;
		if (f->channel != ch) {
			read_err(err, errlen, "a frame for channel %u came amid one for channel %u",
				 f->channel, ch);
			return -1;
		}
		return 0;
	}
}

/* The body frames, body_size bytes in all, into msg->body. */
static int read_body(amqp_connection_state_t conn, uint16_t ch, uint64_t body_size,
		     amqp_message_t *msg, char *err, size_t errlen)
{
	size_t got = 0;
	amqp_frame_t f;

	if (body_size == 0) {
		msg->body = amqp_empty_bytes;
		return 0;
	}
	if (body_size > SIZE_MAX || !(msg->body = amqp_bytes_malloc((size_t)body_size)).bytes) {
		read_err(err, errlen, "out of memory for a body of %llu bytes",
			 (unsigned long long)body_size);
		return -1;
	}
	while (got < msg->body.len) {
		if (next_frame(conn, ch, &f, err, errlen) != 0)
			return -1;
		if (f.frame_type != AMQP_FRAME_BODY ||
		    f.payload.body_fragment.len > msg->body.len - got) {
			read_err(err, errlen, "unexpected frame in a message body");
			return -1;
		}
		memcpy((char *)msg->body.bytes + got, f.payload.body_fragment.bytes,
		       f.payload.body_fragment.len);
		got += f.payload.body_fragment.len;
	}
	return 0;
}

int brk_read_content(amqp_connection_state_t conn, uint16_t ch, amqp_message_t *msg,
		     unsigned *dropped, char *err, size_t errlen)
{
	amqp_frame_t f;
	int rc = -1;

	memset(msg, 0, sizeof(*msg));
	if (next_frame(conn, ch, &f, err, errlen) != 0)
		return -1;
	if (f.frame_type != AMQP_FRAME_HEADER) {
		read_err(err, errlen, "unexpected frame instead of the content header");
		return -1;
	}
	/* The decoded header lives in the channel's pool until the next
	 * amqp_maybe_release_buffers: copy it first. */
	init_amqp_pool(&msg->pool, 4096);
	if (brk_props_copy(f.payload.properties.decoded, &msg->properties, &msg->pool, dropped) !=
	    0)
		read_err(err, errlen, "out of memory for its properties");
	else
		rc = read_body(conn, ch, f.payload.properties.body_size, msg, err, errlen);
	if (rc != 0) {
		amqp_destroy_message(msg);
		memset(msg, 0, sizeof(*msg));
	}
	return rc;
}
