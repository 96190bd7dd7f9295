/* bridge: the event loop that wires broker, dispatch, event, signature and
 * policy together (DESIGN sections 2-4 and 8). */
#ifndef HSBRIDGE_BRIDGE_H
#define HSBRIDGE_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "hsbridge/config.h"

/* Runs until bridge_request_stop. *cfgp stays the caller's to free; a reload
 * replaces it (freeing the old one), so free *cfgp after the call. Returns a
 * sysexits code: 0 after a clean stop, 69 when the broker cannot be reached
 * at start, 78 when the broker holds a topology that contradicts the
 * config. */
int bridge_run(struct cfg **cfgp);

/* Async-signal-safe: the SIGTERM/SIGINT and SIGHUP handlers call these. A
 * reload reads the config file again; an invalid one is logged and ignored. */
void bridge_request_stop(void);
void bridge_request_reload(void);

/* True for headers a retried, parked or replayed copy must not carry over:
 * RabbitMQ's x-death family and the bridge's own hsbridge-* bookkeeping. */
bool bridge_header_is_bookkeeping(const char *key, size_t len);

/* The headers of DESIGN section 3 for one attempt, signatures included.
 * NULL on failure; the caller frees with curl_slist_free_all, or hands the
 * list to disp_submit. */
struct curl_slist *bridge_request_headers(const struct cfg_sub *s, const char *type,
					  const char *delivery_id, unsigned attempt,
					  const void *body, size_t len, long long now);

#endif
