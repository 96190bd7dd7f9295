/* webhook: what one attempt sends besides the body. */
#include "hsbridge/webhook.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/signature.h"

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *name,
				     const char *value)
{
	size_t len = strlen(name) + 2 + strlen(value) + 1;
	char *line;
	struct curl_slist *n;

	if (!*ok)
		return list;
	/* Sized to fit: webhook-signature grows with every previous secret. */
	line = malloc(len);
	if (!line) {
		*ok = false;
		return list;
	}
	snprintf(line, len, "%s: %s", name, value);
	n = curl_slist_append(list, line);
	free(line);
	if (!n) {
		*ok = false;
		return list;
	}
	return n;
}

struct curl_slist *wh_request_headers(const struct cfg_sub *s, const char *type,
				      const char *delivery_id, unsigned attempt, const void *body,
				      size_t len, long long now)
{
	struct curl_slist *h = NULL;
	char sig[SIG_HEX_LEN];
	char *wsig = NULL;
	char num[32];
	char ts[32];
	bool ok = true;

	snprintf(ts, sizeof(ts), "%lld", now);
	snprintf(num, sizeof(num), "%u", attempt);
	if (sig_healthsync(s->secret, body, len, sig, sizeof(sig)) != 0 ||
	    sig_standard_header(s->secret, s->previous_secrets, s->n_previous, delivery_id, now,
				body, len, &wsig) != 0)
		ok = false;
	h = add_header(h, &ok, "Content-Type", "application/json");
	h = add_header(h, &ok, "User-Agent", "HealthSync-Webhooks/" HSB_VERSION);
	h = add_header(h, &ok, "X-HealthSync-Event", type);
	h = add_header(h, &ok, "X-HealthSync-Delivery", delivery_id);
	h = add_header(h, &ok, "X-HealthSync-Signature", sig);
	h = add_header(h, &ok, "X-HealthSync-Attempt", num);
	h = add_header(h, &ok, "webhook-id", delivery_id);
	h = add_header(h, &ok, "webhook-timestamp", ts);
	h = add_header(h, &ok, "webhook-signature", wsig ? wsig : "");
	/* No "Expect: 100-continue" round trip for larger bodies. */
	if (ok && !(h = curl_slist_append(h, "Expect:")))
		ok = false;
	free(wsig);
	if (!ok) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}
