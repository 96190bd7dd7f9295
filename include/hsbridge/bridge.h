/* bridge: the event loop that wires broker, dispatch, event, webhook,
 * policy and the delivery states together (DESIGN sections 2-4 and 8). */
#ifndef HSBRIDGE_BRIDGE_H
#define HSBRIDGE_BRIDGE_H

#include "hsbridge/config.h"

/* Runs until bridge_request_stop. *cfgp stays the caller's to free; a reload
 * replaces it (freeing the old one), so free *cfgp after the call. Returns a
 * <sysexits.h> code: 0 after a clean stop, EX_UNAVAILABLE when the broker
 * cannot be reached at start, EX_CONFIG when the broker holds a topology
 * that contradicts the config, EX_TEMPFAIL when out of memory. */
int bridge_run(struct cfg **cfgp);

/* Async-signal-safe: the SIGTERM/SIGINT and SIGHUP handlers call these. A
 * reload reads the config file again; an invalid one is logged and ignored. */
void bridge_request_stop(void);
void bridge_request_reload(void);

#endif
