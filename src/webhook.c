/* webhook: what one attempt sends besides the body. */
#include "hsbridge/webhook.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/signature.h"

/* The lines in the order DESIGN section 3 gives them. */
enum {
	H_CONTENT_TYPE,
	H_USER_AGENT,
	H_EVENT,
	H_DELIVERY,
	H_SIGNATURE,
	H_ATTEMPT,
	H_WEBHOOK_ID,
	H_WEBHOOK_TIMESTAMP,
	H_WEBHOOK_SIGNATURE,
	H_EXPECT,
	H_COUNT
};

struct wh_sub {
	struct sig_keys *keys;
};

struct wh_sub *wh_sub_new(const struct cfg_sub *s)
{
	struct wh_sub *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->keys = sig_keys_new(s->secret, s->previous_secrets, s->n_previous);
	if (!w->keys) {
		free(w);
		return NULL;
	}
	return w;
}

void wh_sub_free(struct wh_sub *w)
{
	if (!w)
		return;
	sig_keys_free(w->keys);
	free(w);
}

/* "name: value" at *at, its node pointing there; *at moves past its NUL. */
static void put(struct curl_slist *node, char **at, const char *name, const char *value)
{
	size_t n = strlen(name);
	size_t v = strlen(value);

	memcpy(*at, name, n);
	memcpy(*at + n, ": ", 2);
	memcpy(*at + n + 2, value, v + 1);
	node->data = *at;
	*at += n + 2 + v + 1;
}

struct curl_slist *wh_request_headers(struct wh_sub *w, const char *type,
				      const char *delivery_id, unsigned attempt, const void *body,
				      size_t len, long long now)
{
	/* The lines that never change are the nodes' own constants. */
	static char content_type[] = "Content-Type: application/json";
	static char user_agent[] = "User-Agent: HealthSync-Webhooks/" HSB_VERSION;
	static char expect[] = "Expect:"; /* no 100-continue round trip for larger bodies */
	size_t wsig_len = sig_keys_header_len(w->keys);
	char sig[SIG_HEX_LEN];
	char num[16];
	char ts[24];
	struct curl_slist *h;
	char *wsig;
	char *at;
	size_t room;

	snprintf(ts, sizeof(ts), "%lld", now);
	snprintf(num, sizeof(num), "%u", attempt);
	/* One block: the nodes, then the lines that change. Each line is its
	 * name, ": ", its value and a NUL (at most 32 bytes besides the value).
	 * webhook-signature's value is signed into the block's last bytes, and
	 * its line then ends there. */
	room = H_COUNT * sizeof(*h) + strlen(type) + 2 * strlen(delivery_id) + sizeof(sig) +
	       sizeof(num) + sizeof(ts) + wsig_len + 7 * 32;
	h = malloc(room);
	if (!h)
		return NULL;
	at = (char *)(h + H_COUNT);
	wsig = at + room - H_COUNT * sizeof(*h) - wsig_len;
	if (sig_keys_healthsync(w->keys, body, len, sig, sizeof(sig)) != 0 ||
	    sig_keys_standard_header(w->keys, delivery_id, now, body, len, wsig, wsig_len) != 0) {
		free(h);
		return NULL;
	}
	h[H_CONTENT_TYPE].data = content_type;
	h[H_USER_AGENT].data = user_agent;
	put(&h[H_EVENT], &at, "X-HealthSync-Event", type);
	put(&h[H_DELIVERY], &at, "X-HealthSync-Delivery", delivery_id);
	put(&h[H_SIGNATURE], &at, "X-HealthSync-Signature", sig);
	put(&h[H_ATTEMPT], &at, "X-HealthSync-Attempt", num);
	put(&h[H_WEBHOOK_ID], &at, "webhook-id", delivery_id);
	put(&h[H_WEBHOOK_TIMESTAMP], &at, "webhook-timestamp", ts);
	/* Its value is in place already, at the block's end. */
	memcpy(at, "webhook-signature: ", 19);
	memmove(at + 19, wsig, wsig_len);
	h[H_WEBHOOK_SIGNATURE].data = at;
	h[H_EXPECT].data = expect;
	for (size_t i = 0; i < H_COUNT; i++)
		h[i].next = i + 1 < H_COUNT ? &h[i + 1] : NULL;
	return h;
}

void wh_headers_free(struct curl_slist *h)
{
	free(h);
}
