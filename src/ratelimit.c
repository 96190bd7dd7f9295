/* ratelimit: the token bucket of ratelimit.h. */
#include "hsbridge/ratelimit.h"

static long clamp(long v)
{
	return v < 1 ? 1 : v > RL_MAX ? RL_MAX : v;
}

void rl_init(struct rl_bucket *b, long rate, long burst, long long now_ms)
{
	b->rate = rate <= 0 ? 0 : clamp(rate);
	b->burst = clamp(burst);
	b->milli = (long long)b->burst * 1000;
	b->last_ms = now_ms;
}

/* Brings milli up to now_ms: rate thousandths per millisecond, up to the
 * burst. The elapsed time is capped at what fills an empty bucket, so the
 * product cannot overflow however long the bucket sat idle. */
static void refill(struct rl_bucket *b, long long now_ms)
{
	long long full = (long long)b->burst * 1000;
	long long elapsed;

	if (now_ms <= b->last_ms)
		return; /* the same millisecond, or a clock that went back */
	if (__builtin_sub_overflow(now_ms, b->last_ms, &elapsed) || elapsed > full)
		elapsed = full; /* rate >= 1: full ms refill the whole bucket */
	b->last_ms = now_ms;
	b->milli += elapsed * b->rate;
	if (b->milli > full)
		b->milli = full;
}

bool rl_take(struct rl_bucket *b, long long now_ms)
{
	if (b->rate == 0)
		return true;
	refill(b, now_ms);
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

long rl_wait_ms(struct rl_bucket *b, long long now_ms)
{
	long long missing;

	if (b->rate == 0)
		return 0;
	refill(b, now_ms);
	missing = 1000 - b->milli;
	if (missing <= 0)
		return 0;
	/* Rounded up: at that millisecond the token is whole. */
	return (long)((missing + b->rate - 1) / b->rate);
}

long rl_tokens(struct rl_bucket *b, long long now_ms)
{
	if (b->rate == 0)
		return b->burst;
	refill(b, now_ms);
	return (long)(b->milli / 1000);
}
