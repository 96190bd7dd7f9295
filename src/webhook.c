/* webhook: what one attempt sends besides the body. */
#include "hsbridge/webhook.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

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

struct wh_sub {
	struct sig_keys *keys;
	/* The custom headers' lines, "Name: value" each with its NUL, one
	 * after the other: copied into every request's block. */
	char *custom;
	size_t custom_len;
	size_t n_custom;
};

/* The subscription's custom header lines, made once. 0 or -1. */
static int custom_lines(struct wh_sub *w, const struct cfg_sub *s)
{
	size_t len = 0;
	char *at;

	for (size_t i = 0; i < s->n_headers; i++) {
		if (!s->headers[i].value)
			return -1; /* a config loaded without its secrets cannot send */
		len += strlen(s->headers[i].name) + 2 + strlen(s->headers[i].value) + 1;
	}
	if (len == 0)
		return 0;
	w->custom = malloc(len);
	if (!w->custom)
		return -1;
	at = w->custom;
	for (size_t i = 0; i < s->n_headers; i++) {
		struct curl_slist ignored;

		put(&ignored, &at, s->headers[i].name, s->headers[i].value);
	}
	w->custom_len = len;
	w->n_custom = s->n_headers;
	return 0;
}

static int ed25519_keys(struct wh_sub *w, const struct cfg_sub *s)
{
	if (!s->signing_key)
		return s->has_signing_key ? -1 : 0;
	if (sig_keys_add_ed25519(w->keys, s->signing_key) != 0)
		return -1;
	for (size_t i = 0; i < s->n_previous_signing; i++) {
		if (sig_keys_add_ed25519(w->keys, s->previous_signing_keys[i]) != 0)
			return -1;
	}
	return 0;
}

struct wh_sub *wh_sub_new(const struct cfg_sub *s)
{
	struct wh_sub *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->keys = sig_keys_new(s->secret, s->previous_secrets, s->n_previous);
	if (!w->keys || ed25519_keys(w, s) != 0 || custom_lines(w, s) != 0) {
		wh_sub_free(w);
		return NULL;
	}
	return w;
}

void wh_sub_free(struct wh_sub *w)
{
	if (!w)
		return;
	sig_keys_free(w->keys);
	if (w->custom) {
		OPENSSL_cleanse(w->custom, w->custom_len);
		free(w->custom);
	}
	free(w);
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
	size_t n_nodes;
	char *wsig;
	char *at;
	size_t room;

	snprintf(ts, sizeof(ts), "%lld", now);
	snprintf(num, sizeof(num), "%u", attempt);
	/* One block: the nodes, then the lines that change. Each line is its
	 * name, ": ", its value and a NUL (at most 32 bytes besides the value).
	 * webhook-signature's value is signed into the block's last bytes, and
	 * its line then ends there. */
	n_nodes = H_COUNT + w->n_custom;
	room = n_nodes * sizeof(*h) + strlen(type) + 2 * strlen(delivery_id) + sizeof(sig) +
	       sizeof(num) + sizeof(ts) + w->custom_len + wsig_len + 7 * 32;
	h = malloc(room);
	if (!h)
		return NULL;
	at = (char *)(h + n_nodes);
	wsig = at + room - n_nodes * sizeof(*h) - wsig_len;
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
	/* The custom headers follow the bridge's own, in the config's order. */
	if (w->custom_len > 0)
		memcpy(at + 19 + wsig_len, w->custom, w->custom_len);
	at += 19 + wsig_len;
	for (size_t i = H_COUNT; i < n_nodes; i++) {
		h[i].data = at;
		at += strlen(at) + 1;
	}
	for (size_t i = 0; i < n_nodes; i++)
		h[i].next = i + 1 < n_nodes ? &h[i + 1] : NULL;
	return h;
}

void wh_headers_free(struct curl_slist *h)
{
	/* Custom values may be credentials (Authorization): wiped. The first
	 * H_COUNT nodes are the bridge's own (some of them constants). */
	for (struct curl_slist *n = h ? h[H_COUNT - 1].next : NULL; n; n = n->next)
		OPENSSL_cleanse(n->data, strlen(n->data));
	free(h);
}
