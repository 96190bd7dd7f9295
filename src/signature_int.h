/* signature internals, shared by signature.c and signature_ed25519.c only. */
#ifndef HSBRIDGE_SIGNATURE_INT_H
#define HSBRIDGE_SIGNATURE_INT_H

#include <stddef.h>

#include <openssl/evp.h>

/* Strict standard base64 with padding into a malloc'd buffer (caller wipes
 * and frees). 0, or -1 on anything else or out of memory. */
int sig_decode_b64(const char *text, unsigned char **out, size_t *outlen);

/* "<msg_id>.<timestamp>.<body>" in one malloc'd buffer (caller frees) of
 * *len bytes, for what signs only a whole message. NULL when out of memory. */
char *sig_signed_text(const char *msg_id, long long timestamp, const void *body, size_t len,
		      size_t *outlen);

/* The Ed25519 key of a whsk_ text, ready to sign (caller frees with
 * EVP_PKEY_free). NULL when the text is not a valid key or out of memory. */
EVP_PKEY *sig_ed25519_key(const char *whsk);

/* "v1a," + base64 Ed25519(key, msg) into out: SIG_V1A_LEN bytes, the NUL
 * included. 0 or -1. */
int sig_ed25519_v1a(EVP_PKEY *key, const void *msg, size_t len, char *out);

#endif
