/* mark: the seal on the bridge's own bookkeeping headers (DESIGN section 9:
 * hsbridge-* count only on copies the bridge made itself). A retry copy
 * carries hsbridge-mark, an HMAC-SHA256 over the subscription, the attempt
 * count, the first failure's time and the body, under a key derived from
 * the subscription's webhook secret: every bridge process with the same
 * config agrees across restarts, and a publisher, who does not know the
 * secret, cannot make a mark. Pure code. */
#ifndef HSBRIDGE_MARK_H
#define HSBRIDGE_MARK_H

#include <stdbool.h>
#include <stddef.h>

#define MARK_HEX_LEN 64

/* What a mark covers; strings NUL-terminated, body len bytes. */
struct mark_input {
	const char *sub;
	unsigned attempts;
	const char *first_failure_at;
	const void *body;
	size_t len;
};

/* Lowercase hex of the mark into out (65 bytes). Returns 0 or -1. */
int mark_compute(const char *secret, const struct mark_input *in, char out[MARK_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* Whether mark (mark_len bytes, not NUL-terminated) is in's mark under
 * secret or one of the n_previous previous secrets (a copy made before a
 * rotation stays trusted while the old secret is listed). Compares in
 * constant time. */
bool mark_verify(const char *mark, size_t mark_len, const char *secret, char *const *previous,
		 size_t n_previous, const struct mark_input *in);

#endif
