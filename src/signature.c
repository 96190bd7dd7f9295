/* signature: X-HealthSync-Signature (the spec page's verify_signature) and the
 * Standard Webhooks webhook-signature header (DESIGN section 3). */
#include "hsbridge/signature.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "signature_int.h"

#define WHSEC_PREFIX "whsec_"
#define MAC_LEN 32

struct part {
	const void *p;
	size_t len;
};

/* HMAC-SHA256 over the concatenation of parts, fed piece by piece so a large
 * body is never copied just to prepend "<id>.<timestamp>.". */
static int hmac_sha256(const unsigned char *key, size_t keylen, const struct part *parts,
		       size_t n_parts, unsigned char md[MAC_LEN])
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t mdlen = 0;
	int rc = -1;

	/* The HMAC provider treats a NULL key as "keep the previous key", which
	 * fails on a fresh context: an empty key must still be a real pointer. */
	if (key == NULL)
		key = (const unsigned char *)"";
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		goto out;
	if (!EVP_MAC_init(ctx, key, keylen, params))
		goto out;
	for (size_t i = 0; i < n_parts; i++) {
		if (parts[i].len > 0 && !EVP_MAC_update(ctx, parts[i].p, parts[i].len))
			goto out;
	}
	if (!EVP_MAC_final(ctx, md, &mdlen, MAC_LEN) || mdlen != MAC_LEN)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* "sha256=" and the MAC in lower-case hex: SIG_HEX_LEN bytes with the NUL. */
static void healthsync_text(const unsigned char md[MAC_LEN], char *out)
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256=", 7);
	for (size_t i = 0; i < MAC_LEN; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[7 + 2 * MAC_LEN] = '\0';
}

/* What Standard Webhooks signs, "{msg_id}.{timestamp}.{body}", as five
 * parts; ts holds the timestamp's digits. 0, or -1 if it does not fit. */
static int standard_parts(const char *msg_id, long long timestamp, const void *body, size_t len,
			  char ts[24], struct part parts[5])
{
	int n = snprintf(ts, 24, "%lld", timestamp);

	if (n < 0 || n >= 24)
		return -1;
	parts[0] = (struct part){msg_id, strlen(msg_id)};
	parts[1] = (struct part){".", 1};
	parts[2] = (struct part){ts, (size_t)n};
	parts[3] = (struct part){".", 1};
	parts[4] = (struct part){body, len};
	return 0;
}

char *sig_signed_text(const char *msg_id, long long timestamp, const void *body, size_t len,
		      size_t *outlen)
{
	struct part parts[5];
	char ts[24];
	size_t total = 0;
	char *buf;

	if (standard_parts(msg_id, timestamp, body, len, ts, parts) != 0)
		return NULL;
	for (size_t i = 0; i < 5; i++) {
		if (parts[i].len > ((size_t)-1) / 2 - total)
			return NULL;
		total += parts[i].len;
	}
	buf = malloc(total + 1);
	if (buf == NULL)
		return NULL;
	*outlen = 0;
	for (size_t i = 0; i < 5; i++) {
		if (parts[i].len > 0)
			memcpy(buf + *outlen, parts[i].p, parts[i].len);
		*outlen += parts[i].len;
	}
	return buf;
}

/* "v1," and the MAC in base64 (32 bytes are exactly 44 characters;
 * EVP_EncodeBlock adds the NUL): SIG_V1_LEN bytes. */
static int v1_text(const unsigned char md[MAC_LEN], char *out)
{
	memcpy(out, "v1,", 3);
	return EVP_EncodeBlock((unsigned char *)out + 3, md, MAC_LEN) == 44 ? 0 : -1;
}

int sig_healthsync(const char *secret, const void *body, size_t len, char *out, size_t outlen)
{
	unsigned char md[MAC_LEN];
	struct part part = {body, len};
	int rc = -1;

	if (secret == NULL || (body == NULL && len > 0) || out == NULL || outlen < SIG_HEX_LEN)
		goto out;
	if (hmac_sha256((const unsigned char *)secret, strlen(secret), &part, 1, md) != 0)
		goto out;
	healthsync_text(md, out);
	rc = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

static bool is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Strict standard base64 with padding, as the official Standard Webhooks
 * libraries expect. EVP_DecodeBlock alone would skip surrounding whitespace
 * and count '=' padding as zero bytes of output, so check the text first and
 * trim the padding from the decoded length ourselves. */
int sig_decode_b64(const char *text, unsigned char **key, size_t *keylen)
{
	size_t len = strlen(text);
	size_t pad = 0;
	unsigned char *buf = NULL;
	int n;
	int rc = -1;

	if (len == 0 || len % 4 != 0 || len > (size_t)1 << 20)
		goto out;
	if (text[len - 1] == '=')
		pad++;
	if (text[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		if (!is_b64_char((unsigned char)text[i]))
			goto out;
	}
	/* 3 bytes per 4 characters, plus the NUL EVP_DecodeBlock may not write
	 * but a generous buffer costs nothing. */
	buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		goto out;
	n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len);
	if (n < 0 || (size_t)n != len / 4 * 3 || (size_t)n <= pad)
		goto out;
	*key = buf;
	*keylen = (size_t)n - pad;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len / 4 * 3 + 1);
		free(buf);
	}
	return rc;
}

int sig_webhook_key(const char *secret, unsigned char **key, size_t *keylen)
{
	size_t plen = strlen(WHSEC_PREFIX);
	size_t len;
	unsigned char *buf;

	if (secret == NULL || key == NULL || keylen == NULL)
		return -1;
	if (strncmp(secret, WHSEC_PREFIX, plen) == 0)
		return sig_decode_b64(secret + plen, key, keylen);

	/* Not a whsec_ secret: its bytes are the key. One extra byte keeps the
	 * pointer non-NULL for an empty secret. */
	len = strlen(secret);
	buf = malloc(len + 1);
	if (buf == NULL)
		return -1;
	memcpy(buf, secret, len + 1);
	*key = buf;
	*keylen = len;
	return 0;
}

/* The v1 signature with an already derived key. */
static int standard_with_key(const unsigned char *key, size_t keylen, const char *msg_id,
			     long long timestamp, const void *body, size_t len, char *out)
{
	char ts[24];
	unsigned char md[MAC_LEN];
	struct part parts[5];
	int rc = standard_parts(msg_id, timestamp, body, len, ts, parts) == 0 &&
			 hmac_sha256(key, keylen, parts, 5, md) == 0 && v1_text(md, out) == 0
		     ? 0
		     : -1;

	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

static int standard_one(const char *secret, const char *msg_id, long long timestamp,
			const void *body, size_t len, char *out)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	int rc = -1;

	if (sig_webhook_key(secret, &key, &keylen) != 0)
		goto out;
	rc = standard_with_key(key, keylen, msg_id, timestamp, body, len, out);
out:
	if (key != NULL) {
		OPENSSL_cleanse(key, keylen);
		free(key);
	}
	return rc;
}

int sig_standard(const char *secret, const char *msg_id, long long timestamp, const void *body,
		 size_t len, char *out, size_t outlen)
{
	if (secret == NULL || msg_id == NULL || (body == NULL && len > 0) || out == NULL ||
	    outlen < SIG_V1_LEN)
		return -1;
	return standard_one(secret, msg_id, timestamp, body, len, out);
}

int sig_standard_header(const char *secret, char *const *previous, size_t n_previous,
			const char *msg_id, long long timestamp, const void *body, size_t len,
			char **out)
{
	char *buf = NULL;
	size_t cap;
	size_t pos;
	int rc = -1;

	if (out == NULL || secret == NULL || msg_id == NULL || (body == NULL && len > 0) ||
	    (previous == NULL && n_previous > 0))
		goto out;
	/* Each signature is SIG_V1_LEN - 1 characters followed by a space or,
	 * for the last one, the NUL. */
	if (n_previous > ((size_t)-1) / SIG_V1_LEN - 1)
		goto out;
	cap = (n_previous + 1) * SIG_V1_LEN;
	buf = malloc(cap);
	if (buf == NULL)
		goto out;
	if (standard_one(secret, msg_id, timestamp, body, len, buf) != 0)
		goto out;
	pos = SIG_V1_LEN - 1;
	for (size_t i = 0; i < n_previous; i++) {
		if (previous[i] == NULL)
			goto out;
		buf[pos++] = ' ';
		if (standard_one(previous[i], msg_id, timestamp, body, len, buf + pos) != 0)
			goto out;
		pos += SIG_V1_LEN - 1;
	}
	buf[pos] = '\0';
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ keys kept */

/* One HMAC-SHA256 context per key, keyed once: each signature starts it
 * again from the kept key (EVP_MAC_init with a NULL key), so a request
 * fetches no algorithm, decodes no secret and sets up no key. Likewise one
 * Ed25519 key object per whsk_ key. */
struct sig_keys {
	EVP_MAC *mac;
	EVP_MAC_CTX *healthsync; /* the current secret's own bytes */
	EVP_MAC_CTX **standard;	 /* current, then each previous secret's webhook key */
	size_t n_standard;
	EVP_PKEY **ed25519; /* "v1a": the current, then each previous signing key */
	size_t n_ed25519;
};

static EVP_MAC_CTX *keyed(EVP_MAC *mac, const unsigned char *key, size_t keylen)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);

	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key would mean "keep the previous one": none yet. */
	if (!EVP_MAC_init(ctx, key != NULL ? key : (const unsigned char *)"", keylen, params)) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static EVP_MAC_CTX *keyed_webhook(EVP_MAC *mac, const char *secret)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	EVP_MAC_CTX *ctx;

	if (secret == NULL || sig_webhook_key(secret, &key, &keylen) != 0)
		return NULL;
	ctx = keyed(mac, key, keylen);
	OPENSSL_cleanse(key, keylen);
	free(key);
	return ctx;
}

struct sig_keys *sig_keys_new(const char *secret, char *const *previous, size_t n_previous)
{
	struct sig_keys *k;

	if (secret == NULL || (previous == NULL && n_previous > 0) ||
	    n_previous > ((size_t)-1) / SIG_V1_LEN - 1)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	k->standard = calloc(n_previous + 1, sizeof(*k->standard));
	if (k->mac == NULL || k->standard == NULL)
		goto fail;
	k->healthsync = keyed(k->mac, (const unsigned char *)secret, strlen(secret));
	if (k->healthsync == NULL)
		goto fail;
	for (; k->n_standard < n_previous + 1; k->n_standard++) {
		const char *s = k->n_standard == 0 ? secret : previous[k->n_standard - 1];

		k->standard[k->n_standard] = keyed_webhook(k->mac, s);
		if (k->standard[k->n_standard] == NULL)
			goto fail;
	}
	return k;
fail:
	sig_keys_free(k);
	return NULL;
}

void sig_keys_free(struct sig_keys *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->n_standard; i++)
		EVP_MAC_CTX_free(k->standard[i]);
	free(k->standard);
	for (size_t i = 0; i < k->n_ed25519; i++)
		EVP_PKEY_free(k->ed25519[i]);
	free(k->ed25519);
	EVP_MAC_CTX_free(k->healthsync);
	EVP_MAC_free(k->mac);
	free(k);
}

int sig_keys_add_ed25519(struct sig_keys *k, const char *whsk)
{
	EVP_PKEY **grown;
	EVP_PKEY *key;

	if (k == NULL || k->n_ed25519 >= 1024)
		return -1;
	key = sig_ed25519_key(whsk);
	if (key == NULL)
		return -1;
	grown = realloc(k->ed25519, (k->n_ed25519 + 1) * sizeof(*grown));
	if (grown == NULL) {
		EVP_PKEY_free(key);
		return -1;
	}
	k->ed25519 = grown;
	k->ed25519[k->n_ed25519++] = key;
	return 0;
}

size_t sig_keys_header_len(const struct sig_keys *k)
{
	return k->n_standard * SIG_V1_LEN + k->n_ed25519 * SIG_V1A_LEN;
}

static int mac_again(EVP_MAC_CTX *ctx, const struct part *parts, size_t n_parts,
		     unsigned char md[MAC_LEN])
{
	size_t mdlen = 0;

	if (!EVP_MAC_init(ctx, NULL, 0, NULL))
		return -1;
	for (size_t i = 0; i < n_parts; i++) {
		if (parts[i].len > 0 && !EVP_MAC_update(ctx, parts[i].p, parts[i].len))
			return -1;
	}
	return EVP_MAC_final(ctx, md, &mdlen, MAC_LEN) && mdlen == MAC_LEN ? 0 : -1;
}

int sig_keys_healthsync(struct sig_keys *k, const void *body, size_t len, char *out, size_t outlen)
{
	unsigned char md[MAC_LEN];
	struct part part = {body, len};
	int rc = -1;

	if ((body != NULL || len == 0) && out != NULL && outlen >= SIG_HEX_LEN &&
	    mac_again(k->healthsync, &part, 1, md) == 0) {
		healthsync_text(md, out);
		rc = 0;
	}
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/* The "v1a,…" entries after the n_standard "v1,…" ones (at, just past
 * them, replaces their NUL with a space). 0 or -1. */
static int ed25519_entries(struct sig_keys *k, const char *msg_id, long long timestamp,
			   const void *body, size_t len, char *at)
{
	size_t n = 0;
	char *msg = sig_signed_text(msg_id, timestamp, body, len, &n);
	int rc = -1;

	if (msg == NULL)
		return -1;
	for (size_t i = 0; i < k->n_ed25519; i++, at += SIG_V1A_LEN) {
		if (sig_ed25519_v1a(k->ed25519[i], msg, n, at) != 0)
			goto out;
		at[-1] = ' ';
	}
	rc = 0;
out:
	free(msg);
	return rc;
}

int sig_keys_standard_header(struct sig_keys *k, const char *msg_id, long long timestamp,
			     const void *body, size_t len, char *out, size_t outlen)
{
	char ts[24];
	unsigned char md[MAC_LEN];
	struct part parts[5];
	int rc = -1;

	if (msg_id == NULL || (body == NULL && len > 0) || out == NULL ||
	    outlen < sig_keys_header_len(k) ||
	    standard_parts(msg_id, timestamp, body, len, ts, parts) != 0)
		return -1;
	for (size_t i = 0; i < k->n_standard; i++) {
		char *at = out + i * SIG_V1_LEN;

		/* 44 characters, and the NUL that a following space replaces */
		if (mac_again(k->standard[i], parts, 5, md) != 0 || v1_text(md, at) != 0)
			goto out;
		if (i > 0)
			at[-1] = ' ';
	}
	rc = k->n_ed25519 > 0 ? ed25519_entries(k, msg_id, timestamp, body, len,
						out + k->n_standard * SIG_V1_LEN)
			      : 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}
