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
	const char *first_failure_at; /* with attempts > 0: hsbridge-first-failure-at; NULL: now */
	const char *mark;	      /* hsbridge-mark (mark.h; a replay's: attempts 0); NULL: none */
	bool drop_headers;	      /* leave out the original's own headers (they do not fit
					 in a frame with the marks) */
};

/* The properties of one copy. headers point into entries (owned) and into
 * the original's properties and the marks' strings (borrowed): all must
 * outlive the publish. */
struct copy_props {
	amqp_basic_properties_t p;
	amqp_table_entry_t *entries;
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

/* A string header (longstr or byte array) as borrowed bytes; false when
 * absent or of another kind. */
bool copy_header_text(const amqp_basic_properties_t *p, const char *key, const char **s,
		      size_t *len);

/* hsbridge-first-failure-at into buf as a C string; false (buf "") when
 * absent, of another kind or longer than len - 1. Untrusted like every
 * bookkeeping header until its copy's mark verifies. */
bool copy_first_failure_at(const amqp_basic_properties_t *p, char *buf, size_t len);

/* Whether any hsbridge-* header is present (trusted or not). */
bool copy_has_bookkeeping(const amqp_basic_properties_t *p);

/* hsbridge-attempts: attempts already made, as the header says: trust it
 * only on a copy whose hsbridge-mark verifies (mark.h). Counted in our own header:
 * RabbitMQ 4 ignores client-set x-death, and a replay starts over. */
unsigned copy_attempts(const amqp_basic_properties_t *p);

#endif
