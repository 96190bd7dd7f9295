/* signature: the two signature schemes of DESIGN section 3. Pure code. */
#ifndef HSBRIDGE_SIGNATURE_H
#define HSBRIDGE_SIGNATURE_H

#include <stddef.h>

/* "sha256=" + lowercase hex HMAC-SHA256(secret bytes, body): the spec page's
 * verify_signature. out needs SIG_HEX_LEN bytes. Returns 0 or -1. */
#define SIG_HEX_LEN (7 + 64 + 1)
int sig_healthsync(const char *secret, const void *body, size_t len, char *out, size_t outlen)
    __attribute__((warn_unused_result));

/* The Standard Webhooks key of a secret: the base64-decoded part after
 * "whsec_", else the secret's own bytes. Returns 0 and a malloc'd key (caller
 * frees), or -1 when a "whsec_" secret is not valid base64 or is empty. */
int sig_webhook_key(const char *secret, unsigned char **key, size_t *keylen)
    __attribute__((warn_unused_result));

/* "v1," + base64 HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>"). out needs
 * SIG_V1_LEN bytes. Returns 0 or -1. */
#define SIG_V1_LEN (3 + 44 + 1)
int sig_standard(const char *secret, const char *msg_id, long long timestamp, const void *body,
		 size_t len, char *out, size_t outlen) __attribute__((warn_unused_result));

/* The webhook-signature header value: the current secret's "v1,…" followed by
 * one per previous secret, separated by single spaces. Caller frees *out.
 * Returns 0 or -1. */
int sig_standard_header(const char *secret, char *const *previous, size_t n_previous,
			const char *msg_id, long long timestamp, const void *body, size_t len,
			char **out) __attribute__((warn_unused_result));

/* ---- Ed25519 (Standard Webhooks "v1a") ----------------------------------
 * A secret key is "whsk_" + standard base64 of the 64 bytes Svix (the
 * specification's authors) serialise: the 32-byte seed, then the 32-byte
 * public key. The seed alone (32 bytes) is accepted too. A public key is
 * "whpk_" + base64 of its 32 bytes. */
#define SIG_WHSK_LEN (5 + 88 + 1)
#define SIG_WHPK_LEN (5 + 44 + 1)
/* "v1a," + base64 of the 64-byte signature, and the NUL. */
#define SIG_V1A_LEN (4 + 88 + 1)

/* Why a key text was refused (the key itself never goes into a message). */
enum sig_key_status {
	SIG_KEY_OK = 0,
	SIG_KEY_PREFIX = -1,   /* not "whsk_" / "whpk_" */
	SIG_KEY_BASE64 = -2,   /* not strict standard base64 with padding */
	SIG_KEY_LENGTH = -3,   /* decodes to the wrong number of bytes */
	SIG_KEY_MISMATCH = -4, /* 64 bytes whose public half is not the seed's */
	SIG_KEY_NOMEM = -5
};
/* The reason, for "signing_key is not a whsk_ key: <reason>". */
const char *sig_key_status_text(int status);

/* The 32-byte seed of a whsk_ key. Returns a sig_key_status. */
int sig_ed25519_seed(const char *whsk, unsigned char seed[32]) __attribute__((warn_unused_result));
/* The whpk_ text of a whsk_ key's public key into out (SIG_WHPK_LEN bytes).
 * Returns a sig_key_status. */
int sig_ed25519_public(const char *whsk, char *out, size_t outlen)
    __attribute__((warn_unused_result));
/* The 32 bytes of a whpk_ key. Returns a sig_key_status. */
int sig_ed25519_public_raw(const char *whpk, unsigned char pk[32])
    __attribute__((warn_unused_result));
/* A new key pair from the system's random source: whsk (SIG_WHSK_LEN bytes)
 * and its whpk (SIG_WHPK_LEN bytes). 0 or -1. */
int sig_ed25519_generate(char *whsk, size_t whsk_len, char *whpk, size_t whpk_len)
    __attribute__((warn_unused_result));
/* "v1a," + base64 Ed25519 signature of "<msg_id>.<timestamp>.<body>" with a
 * whsk_ key: what webhook-signature carries for it. out needs SIG_V1A_LEN
 * bytes. 0 or -1. */
int sig_v1a(const char *whsk, const char *msg_id, long long timestamp, const void *body,
	    size_t len, char *out, size_t outlen) __attribute__((warn_unused_result));

/* A subscription's keys, derived once and kept ready to sign: the same
 * signatures as sig_healthsync and sig_standard_header, without the per-call
 * work of deriving them. NULL when a secret cannot sign (a "whsec_" secret
 * that is not valid base64, or empty) or out of memory. */
struct sig_keys;
struct sig_keys *sig_keys_new(const char *secret, char *const *previous, size_t n_previous);
void sig_keys_free(struct sig_keys *k);
/* Adds a whsk_ key: webhook-signature then also carries its "v1a,…" after
 * the "v1,…" ones, in the order the keys were added (the current key
 * first). 0, or -1 when the key is not valid or out of memory. */
int sig_keys_add_ed25519(struct sig_keys *k, const char *whsk) __attribute__((warn_unused_result));
/* X-HealthSync-Signature, as sig_healthsync. Returns 0 or -1. */
int sig_keys_healthsync(struct sig_keys *k, const void *body, size_t len, char *out,
			size_t outlen) __attribute__((warn_unused_result));
/* The bytes webhook-signature's value takes, its NUL included. */
size_t sig_keys_header_len(const struct sig_keys *k);
/* webhook-signature's value, as sig_standard_header, into out (at least
 * sig_keys_header_len bytes). Returns 0 or -1. */
int sig_keys_standard_header(struct sig_keys *k, const char *msg_id, long long timestamp,
			     const void *body, size_t len, char *out, size_t outlen)
    __attribute__((warn_unused_result));

#endif
