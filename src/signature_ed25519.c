/* signature: Ed25519 keys and signatures, Standard Webhooks "v1a" (OpenSSL's
 * EVP Ed25519). Pure code. */
#include "hsbridge/signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "signature_int.h"

#define WHSK_PREFIX "whsk_"
#define WHPK_PREFIX "whpk_"
#define SEED_LEN 32
#define PUB_LEN 32
#define SIG_LEN 64

const char *sig_key_status_text(int status)
{
	switch (status) {
	case SIG_KEY_OK:
		return "valid";
	case SIG_KEY_PREFIX:
		return "it does not start with whsk_";
	case SIG_KEY_BASE64:
		return "the part after the prefix is not standard base64 with padding";
	case SIG_KEY_LENGTH:
		return "it does not decode to 64 bytes (seed and public key) or 32 (seed)";
	case SIG_KEY_MISMATCH:
		return "its last 32 bytes are not the public key of its first 32";
	default:
		return "out of memory";
	}
}

/* The decoded bytes after prefix: a sig_key_status, and on SIG_KEY_OK
 * *raw (caller wipes and frees) of *len bytes. */
static int decode_key(const char *text, const char *prefix, unsigned char **raw, size_t *len)
{
	size_t plen = strlen(prefix);

	*raw = NULL;
	if (text == NULL || strncmp(text, prefix, plen) != 0)
		return SIG_KEY_PREFIX;
	return sig_decode_b64(text + plen, raw, len) == 0 ? SIG_KEY_OK : SIG_KEY_BASE64;
}

static void wipe_free(unsigned char *p, size_t len)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

static EVP_PKEY *key_of_seed(const unsigned char seed[SEED_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, SEED_LEN);
}

static int public_of(EVP_PKEY *key, unsigned char pub[PUB_LEN])
{
	size_t len = PUB_LEN;

	return EVP_PKEY_get_raw_public_key(key, pub, &len) == 1 && len == PUB_LEN ? 0 : -1;
}

int sig_ed25519_seed(const char *whsk, unsigned char seed[32])
{
	unsigned char *raw = NULL;
	unsigned char pub[PUB_LEN];
	EVP_PKEY *key = NULL;
	size_t len = 0;
	int rc = decode_key(whsk, WHSK_PREFIX, &raw, &len);

	if (rc != SIG_KEY_OK)
		goto out;
	if (len != SEED_LEN && len != SEED_LEN + PUB_LEN) {
		rc = SIG_KEY_LENGTH;
		goto out;
	}
	if (len == SEED_LEN + PUB_LEN) {
		/* The public half must be the seed's, or a receiver given the
		 * public key printed elsewhere would reject every signature. */
		key = key_of_seed(raw);
		if (key == NULL || public_of(key, pub) != 0) {
			rc = SIG_KEY_NOMEM;
			goto out;
		}
		if (CRYPTO_memcmp(pub, raw + SEED_LEN, PUB_LEN) != 0) {
			rc = SIG_KEY_MISMATCH;
			goto out;
		}
	}
	memcpy(seed, raw, SEED_LEN);
out:
	EVP_PKEY_free(key);
	wipe_free(raw, len);
	return rc;
}

EVP_PKEY *sig_ed25519_key(const char *whsk)
{
	unsigned char seed[SEED_LEN];
	EVP_PKEY *key = NULL;

	if (sig_ed25519_seed(whsk, seed) == SIG_KEY_OK)
		key = key_of_seed(seed);
	OPENSSL_cleanse(seed, sizeof(seed));
	return key;
}

/* prefix + base64 of len bytes into out (4 * ceil(len / 3) characters and
 * the NUL must fit). 0 or -1. */
static int key_text(const char *prefix, const unsigned char *raw, size_t len, char *out,
		    size_t outlen)
{
	size_t plen = strlen(prefix);
	size_t b64 = (len + 2) / 3 * 4;

	if (outlen < plen + b64 + 1)
		return -1;
	memcpy(out, prefix, plen);
	return EVP_EncodeBlock((unsigned char *)out + plen, raw, (int)len) == (int)b64 ? 0 : -1;
}

int sig_ed25519_public(const char *whsk, char *out, size_t outlen)
{
	unsigned char pub[PUB_LEN];
	EVP_PKEY *key = NULL;
	int rc;

	if (out == NULL || outlen < SIG_WHPK_LEN)
		return SIG_KEY_NOMEM;
	key = sig_ed25519_key(whsk);
	if (key == NULL) {
		unsigned char seed[SEED_LEN];

		/* Which way it is wrong; a valid key here means no memory. */
		rc = sig_ed25519_seed(whsk, seed);
		OPENSSL_cleanse(seed, sizeof(seed));
		return rc != SIG_KEY_OK ? rc : SIG_KEY_NOMEM;
	}
	rc = public_of(key, pub) == 0 && key_text(WHPK_PREFIX, pub, PUB_LEN, out, outlen) == 0
		 ? SIG_KEY_OK
		 : SIG_KEY_NOMEM;
	EVP_PKEY_free(key);
	return rc;
}

int sig_ed25519_public_raw(const char *whpk, unsigned char pk[32])
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int rc = decode_key(whpk, WHPK_PREFIX, &raw, &len);

	if (rc == SIG_KEY_OK && len != PUB_LEN)
		rc = SIG_KEY_LENGTH;
	if (rc == SIG_KEY_OK)
		memcpy(pk, raw, PUB_LEN);
	wipe_free(raw, len);
	return rc;
}

int sig_ed25519_generate(char *whsk, size_t whsk_len, char *whpk, size_t whpk_len)
{
	unsigned char both[SEED_LEN + PUB_LEN];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	size_t len = SEED_LEN;
	int rc = -1;

	ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1)
		goto out;
	if (EVP_PKEY_get_raw_private_key(key, both, &len) != 1 || len != SEED_LEN ||
	    public_of(key, both + SEED_LEN) != 0)
		goto out;
	if (key_text(WHSK_PREFIX, both, sizeof(both), whsk, whsk_len) != 0 ||
	    key_text(WHPK_PREFIX, both + SEED_LEN, PUB_LEN, whpk, whpk_len) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(both, sizeof(both));
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int sig_ed25519_v1a(EVP_PKEY *key, const void *msg, size_t len, char *out)
{
	unsigned char sig[SIG_LEN];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	/* Pure Ed25519 hashes the message twice, so it takes it whole: no
	 * streaming as for the HMACs. */
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != SIG_LEN)
		goto out;
	memcpy(out, "v1a,", 4);
	if (EVP_EncodeBlock((unsigned char *)out + 4, sig, SIG_LEN) != SIG_V1A_LEN - 5)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int sig_v1a(const char *whsk, const char *msg_id, long long timestamp, const void *body,
	    size_t len, char *out, size_t outlen)
{
	EVP_PKEY *key = NULL;
	char *msg = NULL;
	size_t n = 0;
	int rc = -1;

	if (msg_id == NULL || (body == NULL && len > 0) || out == NULL || outlen < SIG_V1A_LEN)
		return -1;
	key = sig_ed25519_key(whsk);
	if (key == NULL)
		goto out;
	msg = sig_signed_text(msg_id, timestamp, body, len, &n);
	if (msg == NULL)
		goto out;
	rc = sig_ed25519_v1a(key, msg, n, out);
out:
	free(msg);
	EVP_PKEY_free(key);
	return rc;
}
