/* broker internals, shared by broker.c and broker_read.c. */
#ifndef HSBRIDGE_BROKER_INT_H
#define HSBRIDGE_BROKER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

/* Reads the content that follows a basic.deliver, basic.get-ok or
 * basic.return on ch into msg, waiting at most BRK_RPC_TIMEOUT_MS for each
 * frame: the properties deep-copied into msg->pool by brk_props_copy (bits
 * of what it left out or'ed into *dropped), the body malloc'd. Free msg with
 * amqp_destroy_message. Returns 0, or -1 with err, msg clear and the
 * connection out of step (drop it). */
int brk_read_content(amqp_connection_state_t conn, uint16_t ch, amqp_message_t *msg,
		     unsigned *dropped, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
