/* clock: the two clocks the bridge reads. A leaf: libc only. */
#ifndef HSBRIDGE_CLOCK_H
#define HSBRIDGE_CLOCK_H

/* Milliseconds of CLOCK_MONOTONIC: for timeouts and backoffs. */
long long clk_mono_ms(void);

/* Unix seconds: for what goes on the wire (timestamps, signatures). */
long long clk_wall_s(void);

#endif
