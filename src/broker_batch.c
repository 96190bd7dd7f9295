/* broker_batch: publishes encoded into one buffer and written to a plain
 * TCP connection's socket in one send (broker.h, brk_batch_begin). The
 * frames are whole publishes, encoded by wire_encode_publish as rabbitmq-c
 * would send them; rabbitmq-c's own sends are whole frames too, and both
 * write to the socket only at frame boundaries, so the two never interleave
 * inside a frame. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "hsbridge/broker.h"
#include "hsbridge/clock.h"
#include "hsbridge/wire.h"
#include "broker_int.h"

/* Writes all of p to the broker's socket, waiting for room at most
 * BRK_LOOP_WAIT_MS in all (a connection blocked by an alarm stops reading:
 * the bridge does not publish while it knows it is blocked). */
static int write_all(int fd, const unsigned char *p, size_t n)
{
	long long deadline = clk_mono_ms() + BRK_LOOP_WAIT_MS;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		long long left;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -1;
		left = deadline - clk_mono_ms();
		if (left <= 0)
			return -1;
		if (poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, (int)left) < 0 &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

/* Publishes larger than this are not batched: the batch is for many small
 * records, and a large body would only be copied once more. */
#define BATCH_MAX (256 * 1024)

int brk_batch_add(struct brk *b, uint16_t ch, const amqp_basic_publish_t *m,
		  const amqp_basic_properties_t *props, const void *body, size_t len)
{
	size_t need = wire_publish_size((size_t)b->frame_max, m, props, len);
	size_t n;

	if (need == WIRE_UNENCODABLE)
		return BRK_ERR_TOO_LARGE;
	if (need > BATCH_MAX)
		return 1;
	if (b->out_len + need > BATCH_MAX && brk_batch_flush(b) != 0)
		return BRK_ERR_CONNECTION;
	if (b->out_len + need > b->out_cap) {
		unsigned char *grown = realloc(b->out, BATCH_MAX);

		if (!grown)
			return 1;
		b->out = grown;
		b->out_cap = BATCH_MAX;
	}
	n = wire_encode_publish(b->out + b->out_len, b->out_cap - b->out_len, ch,
				(size_t)b->frame_max, m, props, body, len);
	if (n == WIRE_UNENCODABLE)
		return BRK_ERR_TOO_LARGE;
	b->out_len += n;
	return 0;
}

void brk_batch_begin(struct brk *b)
{
	b->batching = b->raw_writes && !b->broken;
}

void brk_batch_drop(struct brk *b)
{
	b->batching = false;
	b->out_len = 0;
}

int brk_batch_flush(struct brk *b)
{
	int rc = 0;

	if (b->out_len > 0 &&
	    (b->broken || write_all(amqp_get_sockfd(b->conn), b->out, b->out_len) != 0)) {
		b->broken = true;
		rc = BRK_ERR_CONNECTION;
	}
	b->out_len = 0;
	return rc;
}

int brk_batch_end(struct brk *b)
{
	b->batching = false;
	return brk_batch_flush(b);
}
