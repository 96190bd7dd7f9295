/* webhook: the HTTP request of one delivery attempt (DESIGN section 3):
 * headers and both signatures. Pure code: no I/O. */
#ifndef HSBRIDGE_WEBHOOK_H
#define HSBRIDGE_WEBHOOK_H

#include <stddef.h>

#include <curl/curl.h>

#include "hsbridge/config.h"

/* What every request of a subscription shares, made once: its signing keys,
 * derived and ready (sig_keys). NULL when a secret cannot sign or out of
 * memory. */
struct wh_sub;
struct wh_sub *wh_sub_new(const struct cfg_sub *s);
void wh_sub_free(struct wh_sub *w);

/* The headers of one attempt of (the subscription of w, event type,
 * delivery id), the body's signatures included; now is the unix time of
 * webhook-timestamp. One allocation: NULL on failure, else a list the
 * caller frees with wh_headers_free (disp_request's free_headers). */
struct curl_slist *wh_request_headers(struct wh_sub *w, const char *type,
				      const char *delivery_id, unsigned attempt, const void *body,
				      size_t len, long long now);
void wh_headers_free(struct curl_slist *h);

#endif
