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

/* A subscription's keys, derived once and kept ready to sign: the same
 * signatures as sig_healthsync and sig_standard_header, without the per-call
 * work of deriving them. NULL when a secret cannot sign (a "whsec_" secret
 * that is not valid base64, or empty) or out of memory. */
struct sig_keys;
struct sig_keys *sig_keys_new(const char *secret, char *const *previous, size_t n_previous);
void sig_keys_free(struct sig_keys *k);
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
