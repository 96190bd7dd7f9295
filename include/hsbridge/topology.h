/* topology: the names and the declaration of DESIGN section 1, derived from
 * the config. Naming is pure; topo_declare speaks through the broker. */
#ifndef HSBRIDGE_TOPOLOGY_H
#define HSBRIDGE_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "hsbridge/broker.h"
#include "hsbridge/config.h"

/* "<prefix>.<sub>", "<prefix>.<sub>.parked", "<prefix>.retry.<label>"
 * (the retry exchange and its queue share the name). */
void topo_sub_queue(const struct cfg *cfg, const char *sub, char *buf, size_t len);
void topo_parked_queue(const struct cfg *cfg, const char *sub, char *buf, size_t len);
void topo_retry_name(const struct cfg *cfg, size_t delay_index, char *buf, size_t len);
/* "<prefix>.attempts": the history stream (issue 11). */
void topo_attempts_queue(const struct cfg *cfg, char *buf, size_t len);
/* The stream's segment size: a quarter of history.max_bytes, at most
 * RabbitMQ's default (500 MB), so that retention, which drops whole
 * segments, keeps between 3/4 of max_bytes and max_bytes. */
long long topo_attempts_segment_bytes(const struct cfg *cfg);

/* Declares, idempotently, everything of DESIGN section 1 on channel ch:
 * exchanges, then every queue (not the history stream: see below), then
 * the bindings of active subscriptions
 * (an inactive one's patterns are unbound). A queue that exists with other
 * arguments yields BRK_ERR_CHANNEL and an err naming the queue, the
 * argument and the way out, before anything is bound. */
int topo_declare(struct brk *b, uint16_t ch, const struct cfg *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Declares the history stream, when history is enabled, after topo_declare.
 * A stream that exists with other retention yields BRK_ERR_CHANNEL (the
 * channel usable again) and an err that says records still go to it and
 * how to change its retention: the caller warns and goes on, since the
 * history must never stop deliveries. Other errors are the connection's. */
int topo_declare_attempts(struct brk *b, uint16_t ch, const struct cfg *cfg, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

#endif
