/* Unit tests for signature_ed25519.c and the "v1a" entries of the kept keys
 * (signature.c). Keys are RFC 8032 section 7.1's TEST 1 and TEST 2 (their
 * public keys d75a9801… and 3d4017c3… are the RFC's). The Standard Webhooks
 * specification gives no Ed25519 key with its example, so the expected
 * signatures were computed by independent implementations and pasted here:
 * `openssl pkeyutl -sign -rawin` (the spec's example message) and Node's
 * crypto.sign(null, msg, key) (the others). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hsbridge/signature.h"

/* RFC 8032 TEST 1: seed then public key, the seed alone, the public key. */
#define T1_WHSK                                                                                  \
	"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9w" \
	"dRGg=="
#define T1_SEED_WHSK "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
#define T1_WHPK "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
/* RFC 8032 TEST 2. */
#define T2_WHSK                                                                                  \
	"whsk_TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKv" \
	"RmDA=="
#define T2_WHPK "whpk_PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="
/* TEST 1's seed followed by TEST 2's public key: the halves disagree. */
#define MISMATCHED_WHSK                                                                          \
	"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKv" \
	"RmDA=="

/* The specification's signature example: its message id, timestamp and
 * compacted body. */
#define SPEC_ID "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define SPEC_TS 1674087231LL
static const char spec_body[] = "{\"type\":\"contact.created\",\"timestamp\":\"2022-11-03T20:26:"
				"10.344522Z\",\"data\":{\"id\":\"1f81eb52-5198-4599-803e-"
				"771906343485\"}}";
/* openssl pkeyutl -sign -rawin with TEST 1's key over SPEC_ID.SPEC_TS.body */
#define SPEC_V1A_T1                                                                              \
	"v1a,pbpYBMlty2hExn4zt0UTGb6BaP2Vq5AfyzjB9GGV3x/wCJKd8UjOCf8Qhaji6TKY9C5eNMnlF0GG4udaO6B" \
	"7Ag=="

/* A body with NUL bytes: signed by length, never strlen. */
static const char nul_body[] = "{\"a\":\"x\0y\"}\0tail";
#define NUL_BODY_LEN (sizeof(nul_body) - 1)
#define NUL_ID "5f0c6e2a-3b7d-5a4e-9c1f-2d8e7b6a4c3d"
#define NUL_TS 1709029800LL
#define NUL_V1A_T1                                                                               \
	"v1a,rl4BdtRTBLmDZOvBvVAePXS7Z5bZqZO9H/EWxFctLxGNoC1yoBp7X6UXALgXcvIrfR8Iqsy3VqSekvpHXg/" \
	"7BQ=="
#define NUL_V1A_T2                                                                               \
	"v1a,375STyfYyAsQOc2xUJWJmP7sOkk3UrEK80P1dW5agixq93OFM4mszlUT5H1QDbOcjC/o+3QxinWjzH+vKdn" \
	"NBg=="

static void public_key_of_rfc8032_keys(void **state)
{
	char out[SIG_WHPK_LEN];

	(void)state;
	assert_int_equal(sig_ed25519_public(T1_WHSK, out, sizeof(out)), SIG_KEY_OK);
	assert_string_equal(out, T1_WHPK);
	assert_int_equal(sig_ed25519_public(T1_SEED_WHSK, out, sizeof(out)), SIG_KEY_OK);
	assert_string_equal(out, T1_WHPK);
	assert_int_equal(sig_ed25519_public(T2_WHSK, out, sizeof(out)), SIG_KEY_OK);
	assert_string_equal(out, T2_WHPK);
}

static void v1a_signs_the_spec_example(void **state)
{
	char out[SIG_V1A_LEN];

	(void)state;
	assert_int_equal(
	    sig_v1a(T1_WHSK, SPEC_ID, SPEC_TS, spec_body, strlen(spec_body), out, sizeof(out)), 0);
	assert_string_equal(out, SPEC_V1A_T1);
	/* The seed alone is the same key. */
	assert_int_equal(
	    sig_v1a(T1_SEED_WHSK, SPEC_ID, SPEC_TS, spec_body, strlen(spec_body), out, sizeof(out)),
	    0);
	assert_string_equal(out, SPEC_V1A_T1);
}

static void v1a_signs_nul_bytes_by_length(void **state)
{
	char out[SIG_V1A_LEN];

	(void)state;
	assert_int_equal(sig_v1a(T1_WHSK, NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, out, sizeof(out)),
			 0);
	assert_string_equal(out, NUL_V1A_T1);
	assert_int_equal(sig_v1a(T2_WHSK, NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, out, sizeof(out)),
			 0);
	assert_string_equal(out, NUL_V1A_T2);
	assert_int_equal(sig_v1a(T1_WHSK, NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, out, SIG_V1A_LEN - 1),
			 -1);
}

/* Each bad key text, and the status it gets. */
static void bad_keys_are_refused_with_their_reason(void **state)
{
	static const struct {
		const char *text;
		int want;
	} table[] = {
	    {"", SIG_KEY_PREFIX},
	    {"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", SIG_KEY_PREFIX},
	    {"whsec_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", SIG_KEY_PREFIX},
	    {"WHSK_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", SIG_KEY_PREFIX},
	    {T1_WHPK, SIG_KEY_PREFIX},
	    {"whsk_", SIG_KEY_BASE64},
	    {"whsk_abc", SIG_KEY_BASE64},
	    {"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", SIG_KEY_BASE64},
	    {"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A= ", SIG_KEY_BASE64},
	    {" whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", SIG_KEY_PREFIX},
	    {"whsk_nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", SIG_KEY_BASE64}, /* base64url */
	    /* 31, 33 and 63 bytes */
	    {"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyufw==", SIG_KEY_LENGTH},
	    {"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DX", SIG_KEY_LENGTH},
	    {"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9w"
	     "dR",
	     SIG_KEY_LENGTH},
	    {MISMATCHED_WHSK, SIG_KEY_MISMATCH},
	};
	unsigned char seed[32];
	char out[SIG_WHPK_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int got = sig_ed25519_seed(table[i].text, seed);

		if (got != table[i].want)
			fail_msg("key %zu (%.20s…): status %d, want %d", i, table[i].text, got,
				 table[i].want);
		assert_int_equal(sig_ed25519_public(table[i].text, out, sizeof(out)), table[i].want);
		assert_string_not_equal(sig_key_status_text(got), "valid");
	}
}

static void public_key_text_round_trips(void **state)
{
	unsigned char pk[32];
	static const unsigned char t1[4] = {0xd7, 0x5a, 0x98, 0x01};

	(void)state;
	assert_int_equal(sig_ed25519_public_raw(T1_WHPK, pk), SIG_KEY_OK);
	assert_memory_equal(pk, t1, sizeof(t1));
	assert_int_equal(pk[31], 0x1a);
	assert_int_equal(sig_ed25519_public_raw(T1_SEED_WHSK, pk), SIG_KEY_PREFIX);
	assert_int_equal(sig_ed25519_public_raw("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUQ==", pk),
			 SIG_KEY_LENGTH);
	assert_int_equal(sig_ed25519_public_raw("whpk_11qY!", pk), SIG_KEY_BASE64);
}

/* A generated pair: the whsk_ is 64 bytes whose public key is the whpk_,
 * and what it signs verifies under that public key (OpenSSL's verifier). */
static void generated_keys_round_trip_and_verify(void **state)
{
	char whsk[SIG_WHSK_LEN], whsk2[SIG_WHSK_LEN];
	char whpk[SIG_WHPK_LEN], whpk2[SIG_WHPK_LEN], derived[SIG_WHPK_LEN];
	char sig[SIG_V1A_LEN];
	unsigned char pk[32], raw_sig[66];
	unsigned char seed[32];
	EVP_PKEY *pub;
	EVP_MD_CTX *ctx;
	char msg[128];
	int n;

	(void)state;
	assert_int_equal(sig_ed25519_generate(whsk, sizeof(whsk), whpk, sizeof(whpk)), 0);
	assert_int_equal(sig_ed25519_generate(whsk2, sizeof(whsk2), whpk2, sizeof(whpk2)), 0);
	assert_string_not_equal(whsk, whsk2);
	assert_int_equal(strlen(whsk), SIG_WHSK_LEN - 1);
	assert_int_equal(strlen(whpk), SIG_WHPK_LEN - 1);
	assert_int_equal(sig_ed25519_seed(whsk, seed), SIG_KEY_OK);
	assert_int_equal(sig_ed25519_public(whsk, derived, sizeof(derived)), SIG_KEY_OK);
	assert_string_equal(derived, whpk);
	assert_int_equal(sig_ed25519_public_raw(whpk, pk), SIG_KEY_OK);
	assert_int_equal(sig_v1a(whsk, "id", 7, "{}", 2, sig, sizeof(sig)), 0);
	assert_int_equal(EVP_DecodeBlock(raw_sig, (const unsigned char *)sig + 4, 88), 66);
	n = snprintf(msg, sizeof(msg), "id.7.{}");
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, sizeof(pk));
	ctx = EVP_MD_CTX_new();
	assert_non_null(pub);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(ctx, raw_sig, 64, (unsigned char *)msg, (size_t)n), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	/* Too small a buffer is refused, not overrun. */
	assert_int_equal(sig_ed25519_generate(whsk, SIG_WHSK_LEN - 1, whpk, sizeof(whpk)), -1);
	assert_int_equal(sig_ed25519_generate(whsk, sizeof(whsk), whpk, SIG_WHPK_LEN - 1), -1);
}

/* webhook-signature with kept keys: the v1 entries, then one v1a per
 * signing key in the order they were added, single spaces between. */
static void kept_keys_append_v1a_after_v1(void **state)
{
	char *previous[] = {"old-secret"};
	char v1[SIG_V1_LEN], v1_old[SIG_V1_LEN];
	char want[2 * SIG_V1_LEN + 2 * SIG_V1A_LEN];
	struct sig_keys *k = sig_keys_new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", previous, 1);
	char *out;
	size_t len;

	(void)state;
	assert_non_null(k);
	assert_int_equal(sig_keys_header_len(k), 2 * SIG_V1_LEN);
	assert_int_equal(sig_keys_add_ed25519(k, T1_WHSK), 0);
	assert_int_equal(sig_keys_add_ed25519(k, T2_WHSK), 0);
	assert_int_equal(sig_keys_add_ed25519(k, MISMATCHED_WHSK), -1);
	assert_int_equal(sig_keys_add_ed25519(k, "whsk_abc"), -1);
	len = sig_keys_header_len(k);
	assert_int_equal(len, 2 * SIG_V1_LEN + 2 * SIG_V1A_LEN);
	out = malloc(len);
	assert_non_null(out);
	assert_int_equal(sig_keys_standard_header(k, NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, out, len),
			 0);
	assert_int_equal(sig_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NUL_ID, NUL_TS,
				      nul_body, NUL_BODY_LEN, v1, sizeof(v1)),
			 0);
	assert_int_equal(sig_standard("old-secret", NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, v1_old,
				      sizeof(v1_old)),
			 0);
	snprintf(want, sizeof(want), "%s %s %s %s", v1, v1_old, NUL_V1A_T1, NUL_V1A_T2);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out) + 1, len);
	/* One byte short is refused. */
	assert_int_equal(
	    sig_keys_standard_header(k, NUL_ID, NUL_TS, nul_body, NUL_BODY_LEN, out, len - 1), -1);
	free(out);
	sig_keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(public_key_of_rfc8032_keys),
	    cmocka_unit_test(v1a_signs_the_spec_example),
	    cmocka_unit_test(v1a_signs_nul_bytes_by_length),
	    cmocka_unit_test(bad_keys_are_refused_with_their_reason),
	    cmocka_unit_test(public_key_text_round_trips),
	    cmocka_unit_test(generated_keys_round_trip_and_verify),
	    cmocka_unit_test(kept_keys_append_v1a_after_v1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
