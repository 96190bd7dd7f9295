/* mark: HMAC-SHA256 seal of the bookkeeping headers (mark.h). */
#include "hsbridge/mark.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The mark's key is derived, never the secret itself, so that no mark can
 * equal a webhook signature an endpoint sees. */
static const char key_label[] = "hsbridge bookkeeping mark v1";

int mark_compute(const char *secret, const struct mark_input *in, char out[MARK_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char key[EVP_MAX_MD_SIZE], digest[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
	unsigned key_len = 0, digest_len = 0, mac_len = 0;
	unsigned char msg[512 + EVP_MAX_MD_SIZE];
	int n;

	out[0] = '\0';
	if (!secret || !in->sub || !in->first_failure_at || (!in->body && in->len > 0))
		return -1;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)key_label,
		  sizeof(key_label) - 1, key, &key_len) ||
	    !EVP_Digest(in->len ? in->body : "", in->len, digest, &digest_len, EVP_sha256(), NULL))
		return -1;
	/* Newlines separate the fields: none occurs in a subscription name or
	 * an RFC 3339 time, and the attempt count is digits. */
	n = snprintf((char *)msg, 512, "%s\n%u\n%s\n", in->sub, in->attempts, in->first_failure_at);
	if (n < 0 || n >= 512)
		return -1;
	memcpy(msg + n, digest, digest_len);
	if (!HMAC(EVP_sha256(), key, (int)key_len, msg, (size_t)n + digest_len, mac, &mac_len) ||
	    mac_len * 2 != MARK_HEX_LEN)
		return -1;
	for (unsigned i = 0; i < mac_len; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0x0f];
	}
	out[MARK_HEX_LEN] = '\0';
	return 0;
}

static bool matches(const char *mark, size_t mark_len, const char *secret,
		    const struct mark_input *in)
{
	char want[MARK_HEX_LEN + 1];

	return mark_len == MARK_HEX_LEN && mark_compute(secret, in, want) == 0 &&
	       CRYPTO_memcmp(want, mark, MARK_HEX_LEN) == 0;
}

bool mark_verify(const char *mark, size_t mark_len, const char *secret, char *const *previous,
		 size_t n_previous, const struct mark_input *in)
{
	if (!mark)
		return false;
	if (matches(mark, mark_len, secret, in))
		return true;
	for (size_t i = 0; i < n_previous; i++) {
		if (matches(mark, mark_len, previous[i], in))
			return true;
	}
	return false;
}
