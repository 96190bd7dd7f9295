/* copy: the AMQP properties of a retried, parked or replayed copy (DESIGN
 * section 4) and the bookkeeping headers the bridge reads back. Pure code:
 * properties in, properties out, no I/O. */
#ifndef HSBRIDGE_COPY_H
#define HSBRIDGE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

/* What the bridge adds to the original's headers. Strings are borrowed. */
struct copy_marks {
	unsigned attempts;	/* attempts made so far; 0: none (invalid payload, replay) */
	int last_status;	/* with attempts > 0 */
	const char *last_error; /* NULL or "": none (written whenever attempts > 0) */
	const char *reason;	/* parked only: hsbridge-parked-reason, else NULL */
	const char *now;	/* ISO-8601: parked-at, and first-failure-at on the first failure */
	uint64_t seq;		/* hsbridge-copy, naming the copy in a basic.return; 0: none */
	const char *type;	/* replaces the type property when not NULL */
	const char *message_id; /* the message_id when the original has none; NULL: none */
};

/* The properties of one copy. headers point into entries (owned) and into
 * the original's properties and the marks' strings (borrowed): all must
 * outlive the publish. */
struct copy_props {
	amqp_basic_properties_t p;
	amqp_table_entry_t *entries;
	char first_failure_at[64];
};

/* True for headers a copy must not carry over from its original: RabbitMQ's
 * x-death family and the bridge's own hsbridge-* bookkeeping. */
bool copy_header_is_bookkeeping(const char *key, size_t len);

/* The original's properties, minus bookkeeping headers and minus what could
 * lose the copy (expiration) or make the broker refuse it (user_id), made
 * persistent, plus the marks. Returns 0, or -1 when out of memory (out is
 * then clear). Release with copy_props_free. */
int copy_build(const amqp_basic_properties_t *orig, const struct copy_marks *m,
	       struct copy_props *out) __attribute__((warn_unused_result));
void copy_props_free(struct copy_props *c);

/* An integer header of any AMQP integer kind, clamped to 0..max; 0 when
 * absent or of another kind. */
unsigned long long copy_header_uint(const amqp_basic_properties_t *p, const char *key,
				    unsigned long long max);

/* hsbridge-attempts: attempts already made. Counted in our own header:
 * RabbitMQ 4 ignores client-set x-death, and a replay starts over. */
unsigned copy_attempts(const amqp_basic_properties_t *p);

#endif
