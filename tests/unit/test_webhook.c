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
#include <stdlib.h>
#include <string.h>

#include "hsbridge/signature.h"
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

/* The headers of one attempt, through the subscription's shared part made
 * for this call alone: the list stands on its own once that is freed. */
static struct curl_slist *headers_at(const struct cfg_sub *s, const char *type, unsigned attempt,
				     const char *body, size_t len, long long ts)
{
	struct wh_sub *w = wh_sub_new(s);
	struct curl_slist *h;

	if (!w)
		return NULL;
	h = wh_request_headers(w, type, DELIVERY_ID, attempt, body, len, ts);
	wh_sub_free(w);
	return h;
}

static struct curl_slist *headers_for(const struct cfg_sub *s, unsigned attempt)
{
	return headers_at(s, "document.uploaded", attempt, spec_body, strlen(spec_body), TS);
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
	wh_headers_free(h);
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
	wh_headers_free(h);
}

/* Only the attempt number and the timestamp change between attempts. */
static void attempts_differ_only_in_attempt_and_timestamp(void **state)
{
	char secret[] = "my_webhook_secret";
	struct cfg_sub s = make_sub(secret, NULL, 0);
	struct curl_slist *a = headers_for(&s, 1);
	struct curl_slist *b =
	    headers_at(&s, "document.uploaded", 2, spec_body, strlen(spec_body), TS + 60);
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
	wh_headers_free(a);
	wh_headers_free(b);
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
	assert_null(wh_sub_new(&a));
	assert_null(wh_sub_new(&c));
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
	struct curl_slist *whole = headers_at(&s, "t", 1, body, sizeof(body) - 1, TS);
	struct curl_slist *cut = headers_at(&s, "t", 1, body, 7, TS);

	(void)state;
	assert_non_null(whole);
	assert_non_null(cut);
	assert_string_not_equal(find(whole, "X-HealthSync-Signature"),
				find(cut, "X-HealthSync-Signature"));
	wh_headers_free(whole);
	wh_headers_free(cut);
}

/* One subscription's shared part signs request after request: each list
 * is the one a fresh start would give (the kept keys start over every
 * time), and lists built one after the other share no line. */
static void requests_of_one_subscription_are_each_their_own(void **state)
{
	char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char old1[] = "my_webhook_secret";
	char *previous[] = {old1};
	struct cfg_sub s = make_sub(secret, previous, 1);
	struct wh_sub *w = wh_sub_new(&s);
	struct curl_slist *h[3];
	static const char *const types[] = {"document.uploaded", "a.much.longer.event.type.name", "x"};

	(void)state;
	assert_non_null(w);
	for (int i = 0; i < 3; i++)
		h[i] = wh_request_headers(w, types[i], DELIVERY_ID, (unsigned)i + 1, spec_body,
					  strlen(spec_body) - (size_t)i, TS + i);
	for (int i = 0; i < 3; i++) {
		struct curl_slist *fresh =
		    headers_at(&s, types[i], (unsigned)i + 1, spec_body, strlen(spec_body) - (size_t)i,
			       TS + i);
		const struct curl_slist *x = h[i], *y = fresh;

		assert_non_null(h[i]);
		assert_non_null(fresh);
		for (; x && y; x = x->next, y = y->next)
			assert_string_equal(x->data, y->data);
		assert_null(x);
		assert_null(y);
		wh_headers_free(fresh);
	}
	assert_string_equal(find(h[0], "webhook-signature"), V1_WHSEC " " V1_PLAIN);
	assert_string_equal(find(h[1], "X-HealthSync-Event"), types[1]);
	assert_string_equal(find(h[2], "X-HealthSync-Attempt"), "3");
	for (int i = 0; i < 3; i++)
		wh_headers_free(h[i]);
	wh_sub_free(w);
}

/* The block is sized to what it holds: a long type and many previous
 * secrets fit, each line whole (ASan would see a byte too far). */
static void long_type_and_many_secrets_fit(void **state)
{
	char secret[] = "my_webhook_secret";
	char old[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char *previous[12];
	char type[301];
	char *want = NULL;
	struct cfg_sub s;
	struct curl_slist *h;

	(void)state;
	for (size_t i = 0; i < 12; i++)
		previous[i] = old;
	memset(type, 't', sizeof(type) - 1);
	type[sizeof(type) - 1] = '\0';
	s = make_sub(secret, previous, 12);
	h = headers_at(&s, type, 4000000000U, spec_body, strlen(spec_body), -1234567890123LL);
	assert_non_null(h);
	assert_int_equal(count(h), 10);
	assert_string_equal(find(h, "X-HealthSync-Event"), type);
	assert_string_equal(find(h, "X-HealthSync-Attempt"), "4000000000");
	assert_string_equal(find(h, "webhook-timestamp"), "-1234567890123");
	assert_int_equal(sig_standard_header(secret, previous, 12, DELIVERY_ID, -1234567890123LL,
					     spec_body, strlen(spec_body), &want),
			 0);
	assert_string_equal(find(h, "webhook-signature"), want);
	free(want);
	wh_headers_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(attempt_has_every_header_in_order),
	    cmocka_unit_test(previous_secrets_follow_the_current_signature),
	    cmocka_unit_test(attempts_differ_only_in_attempt_and_timestamp),
	    cmocka_unit_test(unusable_secret_yields_no_headers),
	    cmocka_unit_test(body_is_signed_by_length),
	    cmocka_unit_test(requests_of_one_subscription_are_each_their_own),
	    cmocka_unit_test(long_type_and_many_secrets_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
