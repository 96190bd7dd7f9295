/* wire: how many bytes AMQP 0-9-1 properties take on the wire, computed
 * without encoding them, so that a copy that cannot fit in one frame is
 * known before anything is sent. Pure code. */
#ifndef HSBRIDGE_WIRE_H
#define HSBRIDGE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

/* Frame header (7 bytes) and frame end (1 byte) around every payload. */
#define WIRE_FRAME_OVERHEAD 8

/* Encoded size of a field table (its 4-byte length included), or
 * WIRE_UNENCODABLE when rabbitmq-c could not encode it (a key longer than
 * 255 bytes, an unknown kind). */
size_t wire_table_size(const amqp_table_t *t);

/* The whole content header frame that carries p for a basic.publish:
 * overhead, class, weight, body size, flags and the properties set in
 * p->_flags. WIRE_UNENCODABLE when a short string is over 255 bytes or a
 * table cannot be encoded. It fits a connection when <= its frame_max. */
size_t wire_header_frame_size(const amqp_basic_properties_t *p);

#define WIRE_UNENCODABLE ((size_t)-1)

/* The bytes of a whole basic.publish (method frame, content header frame,
 * body frames of at most frame_max bytes each), or WIRE_UNENCODABLE. */
size_t wire_publish_size(size_t frame_max, const amqp_basic_publish_t *m,
			 const amqp_basic_properties_t *p, size_t len);

/* Encodes that publish on channel ch into out (cap bytes), frame for frame
 * as rabbitmq-c would send it, so that several publishes can go out in one
 * write. Returns the bytes written, or WIRE_UNENCODABLE when cap is too
 * small, a frame would exceed frame_max or rabbitmq-c cannot encode the
 * method or the properties. */
size_t wire_encode_publish(unsigned char *out, size_t cap, uint16_t ch, size_t frame_max,
			   const amqp_basic_publish_t *m, const amqp_basic_properties_t *p,
			   const void *body, size_t len);

#endif
