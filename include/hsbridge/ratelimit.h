/* ratelimit: a token bucket (a subscription's max_per_second). Pure: the
 * caller hands in the monotonic time in milliseconds, so every case is
 * tested without waiting. Tokens are counted in thousandths, so a rate of
 * r per second refills exactly r thousandths per millisecond: no floating
 * point, no drift. */
#ifndef HSBRIDGE_RATELIMIT_H
#define HSBRIDGE_RATELIMIT_H

#include <stdbool.h>

/* The largest rate and burst: far beyond what one process posts, and small
 * enough that no product below overflows a long long. */
#define RL_MAX 1000000L

struct rl_bucket {
	long rate;	       /* tokens per second; 0: no limit */
	long burst;	       /* the most tokens it holds, >= 1 */
	long long milli;       /* tokens held, in thousandths: 0 to burst * 1000 */
	long long last_ms;     /* when milli was last brought up to date */
};

/* A full bucket at now_ms: a burst of `burst` requests may go at once.
 * rate 0 (or less): no limit. rate and burst are clamped to 1..RL_MAX. */
void rl_init(struct rl_bucket *b, long rate, long burst, long long now_ms);

/* Takes one token at now_ms: true, or false when none is there (nothing
 * changes but the refill). A clock that goes back refills nothing. */
bool rl_take(struct rl_bucket *b, long long now_ms);

/* Milliseconds from now_ms until a token is there: 0 when one is (or there
 * is no limit). */
long rl_wait_ms(struct rl_bucket *b, long long now_ms);

/* Whole tokens held at now_ms (the burst when there is no limit). */
long rl_tokens(struct rl_bucket *b, long long now_ms);

#endif
