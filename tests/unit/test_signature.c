/* Unit tests for signature.c. Expected values not taken from a published
 * source (the Standard Webhooks example, RFC 4231) were computed with
 * python3's hmac, hashlib and base64 modules, an independent implementation:
 *   "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
 *   "v1," + base64.b64encode(hmac.new(key, f"{id}.{ts}.".encode() + body,
 *                                     hashlib.sha256).digest()).decode()
 * and pasted here as literals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hsbridge/signature.h"

/* The payload example of the spec page, compacted. */
static const char spec_body[] =
    "{\"id\":\"evt_abc123\",\"type\":\"document.uploaded\",\"created_at\":\"2024-02-27T10:"
    "30:00Z\",\"data\":{\"object\":{\"id\":\"doc_xyz789\",\"user_id\":\"user_123\","
    "\"filename\":\"lab_results.pdf\",\"file_size\":245678,\"category\":\"lab_results\","
    "\"uploaded_at\":\"2024-02-27T10:30:00Z\"}}}";

/* Contains NUL bytes: everything must go by length, never strlen. */
static const char nul_body[] = "{\"a\":\"x\0y\"}\0tail";
#define NUL_BODY_LEN (sizeof(nul_body) - 1)

static void check_hex(const char *secret, const void *body, size_t len, const char *want)
{
	char out[SIG_HEX_LEN];

	assert_int_equal(sig_healthsync(secret, body, len, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void check_v1(const char *secret, const char *id, long long ts, const void *body, size_t len,
		     const char *want)
{
	char out[SIG_V1_LEN];

	assert_int_equal(sig_standard(secret, id, ts, body, len, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void healthsync_matches_spec_verify_signature(void **state)
{
	(void)state;
	/* python3 hmac, as in the spec page's verify_signature */
	check_hex("my_webhook_secret", spec_body, strlen(spec_body),
		  "sha256=2b0be8d6aa590791a9d25e03c74705bca8482b1f2729e30bbc2bc30527f17900");
	check_hex("my_webhook_secret", "", 0,
		  "sha256=9b5037f36b5c18b27d004e798697f89ce66e9fc89c5eb66a7ae8cb1d1b7f2c1e");
	check_hex("", spec_body, strlen(spec_body),
		  "sha256=e0c01c4a9a62b085ff30805c9cdde062ff4f113f89ad261e4e3b461ccc9f80a2");
}

static void healthsync_uses_whsec_secret_as_plain_bytes(void **state)
{
	(void)state;
	/* python3 hmac with key b"whsec_MfKQ…": the spec's scheme never decodes. */
	check_hex("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", spec_body, strlen(spec_body),
		  "sha256=ec6592eb9edc59c21efe4dde4abaa4790f95b11e629a09128c11f30e28a96af0");
}

static void healthsync_rfc4231_vectors(void **state)
{
	char key1[21], key3[21], key6[132];
	unsigned char data3[50];

	(void)state;
	/* RFC 4231 test cases 1, 2, 3 and 6 (key longer than the block size). */
	memset(key1, 0x0b, 20);
	key1[20] = '\0';
	check_hex(key1, "Hi There", 8,
		  "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	check_hex("Jefe", "what do ya want for nothing?", 28,
		  "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key3, 0xaa, 20);
	key3[20] = '\0';
	memset(data3, 0xdd, sizeof(data3));
	check_hex(key3, data3, sizeof(data3),
		  "sha256=773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	memset(key6, 0xaa, 131);
	key6[131] = '\0';
	check_hex(key6, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		  "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void healthsync_hashes_nul_bytes_by_length(void **state)
{
	(void)state;
	check_hex("s3cret", nul_body, NUL_BODY_LEN,
		  "sha256=684877646c7facdad6a9e3096574e4a81b0513a4e5bfde2d89ba333237f543de");
}

static void healthsync_rejects_short_buffer(void **state)
{
	char out[SIG_HEX_LEN - 1];

	(void)state;
	assert_int_equal(sig_healthsync("k", "x", 1, out, sizeof(out)), -1);
	assert_int_equal(sig_healthsync(NULL, "x", 1, out, sizeof(out)), -1);
}

static void standard_webhooks_reference_vector(void **state)
{
	(void)state;
	/* The example of the Standard Webhooks specification. */
	check_v1("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		 1614265330, "{\"test\": 2432232314}", 20,
		 "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void standard_signs_spec_payload(void **state)
{
	(void)state;
	/* python3 hmac/base64 */
	check_v1("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "8f14e45f-ceea-467f-a8c3-5b4e2d9a1c00",
		 1709029800, spec_body, strlen(spec_body),
		 "v1,m7QCKxBcNTAZTPl0kmh6e+zYmgE2xnB8THfv+60udAI=");
}

static void standard_uses_plain_secret_as_raw_bytes(void **state)
{
	unsigned char *key = NULL;
	size_t keylen = 0;

	(void)state;
	/* python3 hmac with key b"plain-secret" */
	check_v1("plain-secret", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		 "{\"test\": 2432232314}", 20, "v1,3Iu+JbC8cHey9rJURLZfxQoX30vMfLebm9Kn1ePn6f4=");
	assert_int_equal(sig_webhook_key("plain-secret", &key, &keylen), 0);
	assert_int_equal(keylen, 12);
	assert_memory_equal(key, "plain-secret", 12);
	free(key);
}

static void standard_negative_timestamp_is_signed_as_written(void **state)
{
	(void)state;
	/* python3: content "m.-5.x" */
	check_v1("k", "m", -5, "x", 1, "v1,Iksny5911ffaWz2S7nyfkUBiosKHQYNFTBLRZnZQYFs=");
}

static void webhook_key_strips_base64_padding(void **state)
{
	unsigned char *key = NULL;
	size_t keylen = 0;

	(void)state;
	assert_int_equal(sig_webhook_key("whsec_YQ==", &key, &keylen), 0);
	assert_int_equal(keylen, 1);
	assert_memory_equal(key, "a", 1);
	free(key);
	key = NULL;
	assert_int_equal(sig_webhook_key("whsec_YWI=", &key, &keylen), 0);
	assert_int_equal(keylen, 2);
	assert_memory_equal(key, "ab", 2);
	free(key);
	key = NULL;
	assert_int_equal(sig_webhook_key("whsec_YWJj", &key, &keylen), 0);
	assert_int_equal(keylen, 3);
	assert_memory_equal(key, "abc", 3);
	free(key);

	/* python3 hmac with keys b"a" and b"ab": padding must not leak into the key. */
	check_v1("whsec_YQ==", "m", 1, "x", 1, "v1,eL/Ix2rAnwj/f9+DKFNCY3577mxpFmUzYxMb0G3T4rw=");
	check_v1("whsec_YWI=", "m", 1, "x", 1, "v1,Y5RWfJu2xuqjYEYJdORzujCCmiQa3g7M9+OX5BOoxxg=");
}

static void webhook_key_rejects_invalid_base64(void **state)
{
	static const char *const bad[] = {
	    "whsec_!!!!",  "whsec_abc",	   "whsec_YQ=a",     "whsec_Y===", "whsec_====",
	    "whsec_ YQ==", "whsec_YQ==\n", "whsec_YQ==YQ==", "whsec_YW-_", "whsec_YQ",
	};
	unsigned char *key = NULL;
	size_t keylen = 0;
	char out[SIG_V1_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sig_webhook_key(bad[i], &key, &keylen), -1);
		assert_null(key);
		assert_int_equal(sig_standard(bad[i], "m", 1, "x", 1, out, sizeof(out)), -1);
	}
}

static void webhook_key_rejects_empty_whsec(void **state)
{
	unsigned char *key = NULL;
	size_t keylen = 0;
	char out[SIG_V1_LEN];

	(void)state;
	assert_int_equal(sig_webhook_key("whsec_", &key, &keylen), -1);
	assert_null(key);
	assert_int_equal(sig_standard("whsec_", "m", 1, "x", 1, out, sizeof(out)), -1);
}

static void standard_hashes_nul_bytes_by_length(void **state)
{
	(void)state;
	check_v1("s3cret", "m1", 1700000000, nul_body, NUL_BODY_LEN,
		 "v1,YmfB1q559VsN1Al0F3/7ERmrIrQjL9l4VWHjrJ5D3JU=");
}

static void standard_rejects_short_buffer(void **state)
{
	char out[SIG_V1_LEN - 1];

	(void)state;
	assert_int_equal(sig_standard("k", "m", 1, "x", 1, out, sizeof(out)), -1);
}

static void header_lists_current_then_previous_secrets(void **state)
{
	/* "dGhlIHByZXZpb3VzIG9uZQ==" is base64 of "the previous one". */
	char *const previous[] = {"whsec_dGhlIHByZXZpb3VzIG9uZQ==", "oldest"};
	char *header = NULL;

	(void)state;
	assert_int_equal(sig_standard_header("new-secret", previous, 2, "msg_1", 1700000000,
					     "{\"data\":{}}", 11, &header),
			 0);
	/* python3 hmac/base64, in the order current, previous[0], previous[1]. */
	assert_string_equal(header, "v1,J4b7f9+V1//eD314rHG/rCVXQ9xpp7JvEH9ccq+V1Qw= "
				    "v1,9bjaroYDMrfB6EVC/2AmH3lcxdO/7sbCPT7bhIF6l5A= "
				    "v1,shnF/T/4gHELhVIvcDTR/COoX48dnVnO6fYWNtDCGUQ=");
	free(header);
}

static void header_without_previous_is_one_signature(void **state)
{
	char *header = NULL;

	(void)state;
	assert_int_equal(sig_standard_header("new-secret", NULL, 0, "msg_1", 1700000000,
					     "{\"data\":{}}", 11, &header),
			 0);
	assert_string_equal(header, "v1,J4b7f9+V1//eD314rHG/rCVXQ9xpp7JvEH9ccq+V1Qw=");
	free(header);
}

static void header_count_matches_secret_count(void **state)
{
	char *const previous[] = {"a", "b", "c", "d"};
	char *header = NULL;
	char one[SIG_V1_LEN];
	size_t spaces = 0;

	(void)state;
	assert_int_equal(
	    sig_standard_header("cur", previous, 4, "msg_2", 42, nul_body, NUL_BODY_LEN, &header),
	    0);
	for (const char *p = header; *p != '\0'; p++)
		spaces += *p == ' ';
	assert_int_equal(spaces, 4);
	assert_int_equal(strlen(header), 5 * (SIG_V1_LEN - 1) + 4);
	/* Each slot is exactly that secret's own signature. */
	assert_int_equal(sig_standard("cur", "msg_2", 42, nul_body, NUL_BODY_LEN, one, sizeof(one)),
			 0);
	assert_memory_equal(header, one, SIG_V1_LEN - 1);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sig_standard(previous[i], "msg_2", 42, nul_body, NUL_BODY_LEN, one,
					      sizeof(one)),
				 0);
		assert_memory_equal(header + (i + 1) * SIG_V1_LEN, one, SIG_V1_LEN - 1);
	}
	free(header);
}

static void header_fails_on_any_bad_previous_secret(void **state)
{
	char *const previous[] = {"fine", "whsec_not base64"};
	char *header = NULL;

	(void)state;
	assert_int_equal(sig_standard_header("cur", previous, 2, "m", 1, "x", 1, &header), -1);
	assert_null(header);
	assert_int_equal(sig_standard_header("whsec_", NULL, 0, "m", 1, "x", 1, &header), -1);
	assert_null(header);
}

/* Kept keys sign as the one-shot functions do, call after call (each
 * signature starts over from the key), whatever the secrets: whsec_ and
 * plain, empty, with previous ones; bodies with NUL bytes. */
static void kept_keys_sign_as_the_one_shot_functions(void **state)
{
	static const char *const secrets[] = {"my_webhook_secret", "",
					      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
	char old1[] = "old_secret_one";
	char old2[] = "whsec_YWI=";
	char *previous[] = {old1, old2};

	(void)state;
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		for (size_t n_prev = 0; n_prev <= 2; n_prev++) {
			struct sig_keys *k = sig_keys_new(secrets[i], previous, n_prev);
			size_t hlen;

			assert_non_null(k);
			hlen = sig_keys_header_len(k);
			assert_int_equal(hlen, (n_prev + 1) * SIG_V1_LEN);
			for (int round = 0; round < 3; round++) {
				const char *body = round == 1 ? nul_body : spec_body;
				size_t len = round == 1 ? NUL_BODY_LEN : strlen(spec_body) - (size_t)round;
				char hex[SIG_HEX_LEN], want_hex[SIG_HEX_LEN];
				char got[3 * SIG_V1_LEN];
				char *want = NULL;

				assert_int_equal(sig_keys_healthsync(k, body, len, hex, sizeof(hex)), 0);
				assert_int_equal(
				    sig_healthsync(secrets[i], body, len, want_hex, sizeof(want_hex)), 0);
				assert_string_equal(hex, want_hex);
				assert_int_equal(sig_keys_standard_header(k, "msg_x", 1700000000 + round,
									  body, len, got, hlen),
						 0);
				assert_int_equal(sig_standard_header(secrets[i], previous, n_prev, "msg_x",
								     1700000000 + round, body, len, &want),
						 0);
				assert_string_equal(got, want);
				free(want);
			}
			sig_keys_free(k);
		}
	}
}

static void kept_keys_refuse_what_cannot_sign(void **state)
{
	char bad[] = "whsec_!!!";
	char *previous[] = {bad};
	struct sig_keys *k = sig_keys_new("s", NULL, 0);
	char out[SIG_V1_LEN];

	(void)state;
	assert_null(sig_keys_new("whsec_", NULL, 0));
	assert_null(sig_keys_new(bad, NULL, 0));
	assert_null(sig_keys_new("good", previous, 1));
	assert_null(sig_keys_new(NULL, NULL, 0));
	assert_non_null(k);
	assert_int_equal(sig_keys_standard_header(k, "m", 1, "x", 1, out, sizeof(out) - 1), -1);
	assert_int_equal(sig_keys_healthsync(k, "x", 1, out, SIG_HEX_LEN - 1), -1);
	sig_keys_free(k);
	sig_keys_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(healthsync_matches_spec_verify_signature),
	    cmocka_unit_test(healthsync_uses_whsec_secret_as_plain_bytes),
	    cmocka_unit_test(healthsync_rfc4231_vectors),
	    cmocka_unit_test(healthsync_hashes_nul_bytes_by_length),
	    cmocka_unit_test(healthsync_rejects_short_buffer),
	    cmocka_unit_test(standard_webhooks_reference_vector),
	    cmocka_unit_test(standard_signs_spec_payload),
	    cmocka_unit_test(standard_uses_plain_secret_as_raw_bytes),
	    cmocka_unit_test(standard_negative_timestamp_is_signed_as_written),
	    cmocka_unit_test(webhook_key_strips_base64_padding),
	    cmocka_unit_test(webhook_key_rejects_invalid_base64),
	    cmocka_unit_test(webhook_key_rejects_empty_whsec),
	    cmocka_unit_test(standard_hashes_nul_bytes_by_length),
	    cmocka_unit_test(standard_rejects_short_buffer),
	    cmocka_unit_test(header_lists_current_then_previous_secrets),
	    cmocka_unit_test(header_without_previous_is_one_signature),
	    cmocka_unit_test(header_count_matches_secret_count),
	    cmocka_unit_test(header_fails_on_any_bad_previous_secret),
	    cmocka_unit_test(kept_keys_sign_as_the_one_shot_functions),
	    cmocka_unit_test(kept_keys_refuse_what_cannot_sign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
