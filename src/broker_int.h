/* broker internals, shared by broker.c and broker_read.c. */
#ifndef HSBRIDGE_BROKER_INT_H
#define HSBRIDGE_BROKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

#include "hsbridge/acks.h"

struct brk {
	amqp_connection_state_t conn;
	bool broken;   /* no polite close possible any more */
	int frame_max; /* negotiated: the largest frame the broker accepts from us */
	/* Per channel number (acks[ch]), its unacked deliveries: brk_ack
	 * records, brk_flush_acks sends (broker_acks.c). */
	struct acks *acks;
	size_t n_acks;
	/* amqps: the first error of the certificate check (X509_V_ERR_*, 0:
	 * none), recorded by broker_tls.c's verify callback. */
	long tls_verify_err;
	/* Plain TCP: the bridge may write whole frames to the socket itself
	 * (rabbitmq-c's socket calls are not public, so not over TLS). */
	bool raw_writes;
	/* Between brk_batch_begin and brk_batch_end: publishes encoded here,
	 * written in one send. */
	bool batching;
	unsigned char *out;
	size_t out_len, out_cap;
};

/* Reads the content that follows a basic.deliver, basic.get-ok or
 * basic.return on ch into msg, waiting at most BRK_LOOP_WAIT_MS for each
 * frame: the properties deep-copied into msg->pool by brk_props_copy (bits
 * of what it left out or'ed into *dropped), the body malloc'd. Free msg with
 * amqp_destroy_message. Returns 0, or -1 with err, msg clear and the
 * connection out of step (drop it). */
int brk_read_content(amqp_connection_state_t conn, uint16_t ch, amqp_message_t *msg,
		     unsigned *dropped, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* broker_tls.c: a TLS socket on b's connection (which owns it from then on,
 * also on failure) verifying the peer against ca_file (NULL: the system's
 * bundle) and the host name or IP address against its certificate. NULL
 * with err when it cannot be set up. */
amqp_socket_t *brk_tls_socket(struct brk *b, const char *host, const char *ca_file, char *err,
			      size_t errlen);

/* broker_acks.c. Tag was delivered on ch: 0, or -1 when out of memory (the
 * connection must then be given up: a coalesced ack could cover it). */
int brk_acks_received(struct brk *b, uint16_t ch, uint64_t tag) __attribute__((warn_unused_result));
/* Channel ch was opened again or closed: what it held is forgotten. */
void brk_acks_reset(struct brk *b, uint16_t ch);
void brk_acks_free(struct brk *b);
/* Sends the acks recorded on ch (brk_flush_acks, one channel). */
int brk_flush_acks_on(struct brk *b, uint16_t ch) __attribute__((warn_unused_result));

/* broker_batch.c. Encodes a publish into b's batch: 0, 1 when it does not
 * belong in one (larger than the batch, or no memory: send it alone),
 * BRK_ERR_TOO_LARGE or BRK_ERR_CONNECTION (a full batch could not be
 * written). */
int brk_batch_add(struct brk *b, uint16_t ch, const amqp_basic_publish_t *m,
		  const amqp_basic_properties_t *props, const void *body, size_t len)
    __attribute__((warn_unused_result));

#endif
