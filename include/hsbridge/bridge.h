/* bridge: the event loop that wires broker, dispatch, event, signature and
 * policy together (DESIGN sections 2-4 and 8). */
#ifndef HSBRIDGE_BRIDGE_H
#define HSBRIDGE_BRIDGE_H

#include "hsbridge/config.h"

/* Runs until bridge_request_stop. Borrows cfg. Returns a sysexits code: 0
 * after a clean stop, 69 when the broker cannot be reached at start, 78 when
 * the broker holds a topology that contradicts the config. */
int bridge_run(const struct cfg *cfg);

/* Async-signal-safe: SIGTERM/SIGINT handlers call these. */
void bridge_request_stop(void);

/* The headers and properties of a retried or parked copy (DESIGN section 4)
 * are built here; cli's replay shares the header filter. True for headers a
 * copy must not carry over: RabbitMQ's x-death family and the bridge's own
 * hsbridge-* bookkeeping. */
#include <stdbool.h>
#include <stddef.h>
bool bridge_header_is_bookkeeping(const char *key, size_t len);

#endif
