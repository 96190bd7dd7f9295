/* Unit tests for webhook.c: the headers of one attempt. Signatures were
 * computed with python3's hmac, hashlib and base64 modules (an independent
 * implementation) and pasted here as literals:
 *   "sha256=" + hmac.new(secret, body, sha256).hexdigest()
 *   "v1," + b64encode(hmac.new(key, f"{id}.{ts}.".encode() + body,
 *                              sha256).digest()).decode() */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hsbridge/webhook.h"

static const char spec_body[] =
    "{\"id\":\"evt_abc123\",\"type\":\"document.uploaded\",\"created_at\":\"2024-02-27T10:"
    "30:00Z\",\"data\":{\"object\":{\"id\":\"doc_xyz789\",\"user_id\":\"user_123\","
    "\"filename\":\"lab_results.pdf\",\"file_size\":245678,\"category\":\"lab_results\","
    "\"uploaded_at\":\"2024-02-27T10:30:00Z\"}}}";

#define DELIVERY_ID "5f0c6e2a-3b7d-5a4e-9c1f-2d8e7b6a4c3d"
#define TS 1709029800LL
#define SIG_SPEC "sha256=2b0be8d6aa590791a9d25e03c74705bca8482b1f2729e30bbc2bc30527f17900"
#define V1_PLAIN "v1,9VPQOAoXphY8gU4oxp7BDKvTxbeAVdIvBUR0LAXXxGg="
#define V1_OLD "v1,e85t4k6AeYtihM2p83ZyXGa0YKLC+3ccxtvVgHXlgF0="
#define V1_WHSEC "v1,jpwzLUiSJW+BltN+dd6UqXPRuBLpd7Ho3Q6Ki6dM+VQ="

static struct cfg_sub make_sub(char *secret, char **previous, size_t n_previous)
{
	struct cfg_sub s;

	memset(&s, 0, sizeof(s));
	s.name = "clinic";
	s.url = "http://127.0.0.1:9/hook";
	s.secret = secret;
	s.previous_secrets = previous;
	s.n_previous = n_previous;
	return s;
}

static size_t count(const struct curl_slist *h)
{
	size_t n = 0;

	for (; h; h = h->next)
		n++;
	return n;
}

static struct curl_slist *headers_for(const struct cfg_sub *s, unsigned attempt)
{
	return wh_request_headers(s, "document.uploaded", DELIVERY_ID, attempt, spec_body,
				  strlen(spec_body), TS);
}

/* Every header of DESIGN section 3, in order, with its exact value. */
static void attempt_has_every_header_in_order(void **state)
{
	char secret[] = "my_webhook_secret";
	struct cfg_sub s = make_sub(secret, NULL, 0);
	struct curl_slist *h = headers_for(&s, 3);
	static const char *const want[] = {
	    "Content-Type: application/json",
	    "User-Agent: HealthSync-Webhooks/" HSB_VERSION,
	    "X-HealthSync-Event: document.uploaded",
	    "X-HealthSync-Delivery: " DELIVERY_ID,
	    "X-HealthSync-Signature: " SIG_SPEC,
	    "X-HealthSync-Attempt: 3",
	    "webhook-id: " DELIVERY_ID,
	    "webhook-timestamp: 1709029800",
	    "webhook-signature: " V1_PLAIN,
	    "Expect:",
	};
	const struct curl_slist *p = h;

	(void)state;
	assert_non_null(h);
	assert_int_equal(count(h), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++, p = p->next)
		assert_string_equal(p->data, want[i]);
	curl_slist_free_all(h);
}

static const char *find(const struct curl_slist *h, const char *name)
{
	size_t n = strlen(name);

	for (; h; h = h->next) {
		if (strncmp(h->data, name, n) == 0 && h->data[n] == ':')
			return h->data + n + 2;
	}
	return NULL;
}

/* Previous secrets each add one v1 signature, after the current one. */
static void previous_secrets_follow_the_current_signature(void **state)
{
	char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char old1[] = "my_webhook_secret";
	char old2[] = "old_secret_one";
	char *previous[] = {old1, old2};
	struct cfg_sub s = make_sub(secret, previous, 2);
	struct curl_slist *h = headers_for(&s, 1);

	(void)state;
	assert_non_null(h);
	assert_string_equal(find(h, "webhook-signature"), V1_WHSEC " " V1_PLAIN " " V1_OLD);
	/* The HealthSync scheme signs with the current secret's own bytes. */
	assert_string_not_equal(find(h, "X-HealthSync-Signature"), SIG_SPEC);
	assert_string_equal(find(h, "X-HealthSync-Attempt"), "1");
	curl_slist_free_all(h);
}

/* Only the attempt number and the timestamp change between attempts. */
static void attempts_differ_only_in_attempt_and_timestamp(void **state)
{
	char secret[] = "my_webhook_secret";
	struct cfg_sub s = make_sub(secret, NULL, 0);
	struct curl_slist *a = headers_for(&s, 1);
	struct curl_slist *b = wh_request_headers(&s, "document.uploaded", DELIVERY_ID, 2,
						  spec_body, strlen(spec_body), TS + 60);
	const struct curl_slist *x = a, *y = b;
	int differing = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (; x && y; x = x->next, y = y->next) {
		if (strcmp(x->data, y->data) != 0) {
			differing++;
			assert_true(strncmp(x->data, "X-HealthSync-Attempt:", 21) == 0 ||
				    strncmp(x->data, "webhook-", 8) == 0);
		}
	}
	/* attempt, timestamp and the signature over the timestamp */
	assert_int_equal(differing, 3);
	assert_string_equal(find(a, "X-HealthSync-Signature"), find(b, "X-HealthSync-Signature"));
	curl_slist_free_all(a);
	curl_slist_free_all(b);
}

/* A secret that cannot sign yields no request at all, never an unsigned one. */
static void unusable_secret_yields_no_headers(void **state)
{
	char bad[] = "whsec_!!!not-base64!!!";
	char empty[] = "whsec_";
	char good[] = "my_webhook_secret";
	char *previous[] = {bad};
	struct cfg_sub a = make_sub(bad, NULL, 0);
	struct cfg_sub b = make_sub(empty, NULL, 0);
	struct cfg_sub c = make_sub(good, previous, 1);

	(void)state;
	assert_null(headers_for(&a, 1));
	assert_null(headers_for(&b, 1));
	assert_null(headers_for(&c, 1));
}

/* The body goes by length: NUL bytes are signed, not cut off. */
static void body_is_signed_by_length(void **state)
{
	char secret[] = "my_webhook_secret";
	struct cfg_sub s = make_sub(secret, NULL, 0);
	static const char body[] = "{\"a\":\"x\0y\"}";
	struct curl_slist *whole =
	    wh_request_headers(&s, "t", DELIVERY_ID, 1, body, sizeof(body) - 1, TS);
	struct curl_slist *cut = wh_request_headers(&s, "t", DELIVERY_ID, 1, body, 7, TS);

	(void)state;
	assert_non_null(whole);
	assert_non_null(cut);
	assert_string_not_equal(find(whole, "X-HealthSync-Signature"),
				find(cut, "X-HealthSync-Signature"));
	curl_slist_free_all(whole);
	curl_slist_free_all(cut);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(attempt_has_every_header_in_order),
	    cmocka_unit_test(previous_secrets_follow_the_current_signature),
	    cmocka_unit_test(attempts_differ_only_in_attempt_and_timestamp),
	    cmocka_unit_test(unusable_secret_yields_no_headers),
	    cmocka_unit_test(body_is_signed_by_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
