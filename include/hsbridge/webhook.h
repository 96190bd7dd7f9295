/* webhook: the HTTP request of one delivery attempt (DESIGN section 3):
 * headers and both signatures. Pure code: no I/O. */
#ifndef HSBRIDGE_WEBHOOK_H
#define HSBRIDGE_WEBHOOK_H

#include <stddef.h>

#include <curl/curl.h>

#include "hsbridge/config.h"

/* The headers of one attempt of (sub, event type, delivery id), the body's
 * signatures included; now is the unix time of webhook-timestamp. NULL on
 * failure; the caller frees with curl_slist_free_all, or hands the list to
 * disp_submit. */
struct curl_slist *wh_request_headers(const struct cfg_sub *s, const char *type,
				      const char *delivery_id, unsigned attempt, const void *body,
				      size_t len, long long now);

#endif
