/* clock: monotonic time for waiting, wall time for the wire. */
#include "hsbridge/clock.h"

#include <time.h>

long long clk_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clk_wall_s(void)
{
	return (long long)time(NULL);
}
