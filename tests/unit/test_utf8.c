/* Unit tests for utf8.c. The validator is checked against a reference that
 * follows RFC 3629's definition directly (decode by bit pattern, then
 * refuse overlong forms, surrogates and code points over U+10FFFF), for
 * every string of one, two and three bytes and for every four-byte lead
 * with every second byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hsbridge/utf8.h"

/* Whether s[0..len) is exactly one valid UTF-8 sequence. */
static bool reference_one(const unsigned char *s, size_t len)
{
	static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t want;
	uint32_t cp;

	if (s[0] < 0x80)
		want = 1, cp = s[0];
	else if ((s[0] & 0xe0) == 0xc0)
		want = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		want = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		want = 4, cp = s[0] & 0x07;
	else
		return false;
	if (len != want)
		return false;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	return cp >= min_cp[len] && !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff;
}

static void check(const unsigned char *s, size_t len)
{
	bool want = reference_one(s, len);
	size_t got = utf8_seq_len(s, len);

	if ((got == len) != want)
		fail_msg("%02x %02x %02x %02x (len %zu): utf8_seq_len %zu, reference %s",
			 s[0], len > 1 ? s[1] : 0, len > 2 ? s[2] : 0, len > 3 ? s[3] : 0, len,
			 got, want ? "valid" : "invalid");
}

static void every_string_of_up_to_three_bytes(void **state)
{
	unsigned char s[4];

	(void)state;
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		check(s, 1);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			check(s, 2);
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (unsigned char)c;
				check(s, 3);
			}
		}
	}
}

static void every_four_byte_lead_and_second_byte(void **state)
{
	static const unsigned char tails[] = {0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
	enum { NT = sizeof(tails) };
	unsigned char s[4];

	(void)state;
	for (unsigned a = 0xf0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			for (unsigned c = 0; c < NT * NT; c++) {
				s[0] = (unsigned char)a;
				s[1] = (unsigned char)b;
				s[2] = tails[c / NT];
				s[3] = tails[c % NT];
				check(s, 4);
			}
		}
	}
}

static void every_code_point_round_trips(void **state)
{
	unsigned char s[4];

	(void)state;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n;

		if (cp < 0x80)
			s[0] = (unsigned char)cp, n = 1;
		else if (cp < 0x800)
			s[0] = (unsigned char)(0xc0 | (cp >> 6)), s[1] = (unsigned char)(0x80 | (cp & 0x3f)),
			n = 2;
		else if (cp < 0x10000)
			s[0] = (unsigned char)(0xe0 | (cp >> 12)),
			s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
			s[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
		else
			s[0] = (unsigned char)(0xf0 | (cp >> 18)),
			s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)),
			s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
			s[3] = (unsigned char)(0x80 | (cp & 0x3f)), n = 4;
		assert_int_equal(utf8_seq_len(s, n), (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n);
		/* One byte short is never valid. */
		if (n > 1)
			assert_int_equal(utf8_seq_len(s, n - 1), 0);
	}
}

static void valid_reports_the_first_bad_offset(void **state)
{
	size_t at = 99;

	(void)state;
	assert_true(utf8_valid("", 0, &at));
	assert_true(utf8_valid("abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15, &at));
	assert_int_equal(at, 99);
	assert_false(utf8_valid("ab\xc0\xaf", 4, &at));
	assert_int_equal(at, 2);
	assert_false(utf8_valid("\xc3\xa9\xc3", 3, &at)); /* cut short */
	assert_int_equal(at, 2);
	assert_false(utf8_valid("\x80", 1, NULL));
	/* A NUL byte is a valid character; other code keeps NULs out. */
	assert_true(utf8_valid("a\0b", 3, NULL));
}

static enum utf8_json json(const char *s, size_t *at)
{
	return utf8_json_check(s, strlen(s), at);
}

static void json_escapes_must_pair_surrogates(void **state)
{
	size_t at = 0;

	(void)state;
	assert_int_equal(json("{\"a\":\"\\ud83d\\ude00\"}", &at), UTF8_JSON_OK);
	assert_int_equal(json("{\"a\":\"\\uD83D\\uDE00\"}", &at), UTF8_JSON_OK);
	assert_int_equal(json("{\"a\":\"\\u00e9\\uffff\\ud7ff\\ue000\"}", &at), UTF8_JSON_OK);
	/* Backslashes that escape something else, and quotes inside strings. */
	assert_int_equal(json("{\"a\\\\ud800\":\"\\\\\\\"\\ud800\\udc00\"}", &at), UTF8_JSON_OK);
	/* Outside strings nothing is an escape (the parser refuses it anyway). */
	assert_int_equal(json("\\ud800", &at), UTF8_JSON_OK);
	assert_int_equal(json("{\"a\":\"\\ud800\"}", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(at, 6);
	assert_int_equal(json("{\"a\":\"\\udbff\\u0041\"}", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(json("{\"a\":\"\\ud800\\ud800\"}", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(json("{\"a\":\"\\udc00\"}", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(json("{\"a\":\"x\\ud800", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(json("{\"a\":\"x\\ud800\\", &at), UTF8_JSON_LONE_SURROGATE);
	assert_int_equal(json("{\"a\":\"x\\ud800\\udc0", &at), UTF8_JSON_LONE_SURROGATE);
	/* Malformed escapes are the parser's business. */
	assert_int_equal(json("{\"a\":\"\\u12\"}", &at), UTF8_JSON_OK);
	assert_int_equal(json("{\"a\":\"\\", &at), UTF8_JSON_OK);
	assert_int_equal(json("{\"a\":\"\xf4\x90\x80\x80\"}", &at), UTF8_JSON_BAD_BYTES);
	assert_int_equal(at, 6);
	assert_string_equal(utf8_json_problem(UTF8_JSON_LONE_SURROGATE),
			    "a \\u escape of a lone surrogate");
	assert_string_equal(utf8_json_problem(UTF8_JSON_BAD_BYTES), "bytes that are not UTF-8");
	assert_string_equal(utf8_json_problem(UTF8_JSON_OK), "valid");
}

static void sanitize_replaces_bad_bytes_and_never_cuts_a_sequence(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(utf8_sanitize("ok \xc3\xa9", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "ok \xc3\xa9");
	assert_int_equal(utf8_sanitize("a\xf2z", 3, out, sizeof(out)), 5);
	assert_string_equal(out, "a\xef\xbf\xbdz");
	/* Each bad byte of an overlong form is replaced. */
	utf8_sanitize("\xc0\xaf", 2, out, sizeof(out));
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd");
	/* Room for "a" and not for the whole replacement: stop before it. */
	assert_int_equal(utf8_sanitize("a\xff", 2, out, 4), 1);
	assert_string_equal(out, "a");
	assert_int_equal(utf8_sanitize("\xf0\x9f\x98\x80", 4, out, 4), 0);
	assert_string_equal(out, "");
	assert_int_equal(utf8_sanitize("abc", 3, out, 0), 0);
	assert_true(utf8_valid(out, strlen(out), NULL));
}

/* The word-at-a-time ASCII skip: a bad byte, a good two-byte sequence and
 * the highest ASCII byte at every offset of buffers across word sizes. */
static void valid_at_every_offset_of_long_ascii(void **state)
{
	char buf[40];
	size_t at;

	(void)state;
	for (size_t len = 1; len <= 33; len++) {
		for (size_t p = 0; p < len; p++) {
			memset(buf, 'a', len);
			buf[p] = '\x80';
			at = 999;
			assert_false(utf8_valid(buf, len, &at));
			assert_int_equal(at, p);
			buf[p] = '\x7f';
			assert_true(utf8_valid(buf, len, NULL));
			if (p + 1 < len) {
				buf[p] = '\xc3';
				buf[p + 1] = '\xa9';
				assert_true(utf8_valid(buf, len, NULL));
				assert_false(utf8_valid(buf, p + 1, NULL)); /* cut short */
			}
		}
	}
}

/* The byte-at-a-time scan utf8_json_check replaced, kept as the reference. */
static size_t ref_escape(const char *s, size_t len, size_t i)
{
	unsigned cp = 0, low = 0;

	if (i + 1 >= len || s[i + 1] != 'u')
		return 2;
	if (len - i - 2 < 4 || sscanf(s + i + 2, "%4x", &cp) != 1 ||
	    strspn(s + i + 2, "0123456789abcdefABCDEF") < 4)
		return 2;
	if (cp < 0xd800 || cp > 0xdfff)
		return 2;
	if (cp >= 0xdc00 || i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u')
		return 0;
	if (len - i - 8 < 4 || strspn(s + i + 8, "0123456789abcdefABCDEF") < 4 ||
	    sscanf(s + i + 8, "%4x", &low) != 1)
		return 0;
	return low >= 0xdc00 && low <= 0xdfff ? 12 : 0;
}

static enum utf8_json ref_json(const char *s, size_t len, size_t *at)
{
	bool in_string = false;
	size_t i = 0;

	if (!utf8_valid(s, len, at))
		return UTF8_JSON_BAD_BYTES;
	while (i < len) {
		if (!in_string) {
			in_string = s[i++] == '"';
		} else if (s[i] == '"') {
			in_string = false;
			i++;
		} else if (s[i] == '\\') {
			size_t n = ref_escape(s, len, i);

			if (n == 0) {
				*at = i;
				return UTF8_JSON_LONE_SURROGATE;
			}
			i += n;
		} else {
			i++;
		}
	}
	return UTF8_JSON_OK;
}

/* Every sequence of up to five of these pieces agrees with the reference,
 * result and offset: quotes, backslashes, escapes of both surrogate halves
 * and of others, cut escapes, text, and good and bad UTF-8. */
static void json_check_matches_the_byte_scan_on_every_piece_sequence(void **state)
{
	static const char *const piece[] = {"\"", "\\", "\\ud800", "\\udc00", "\\u0041",
					    "x",  "\xc3\xa9", "\xc3", "\\u12", "\\u"};
	const size_t n_piece = sizeof(piece) / sizeof(piece[0]);
	char buf[64];

	(void)state;
	for (size_t n = 0; n <= 5; n++) {
		size_t total = 1, idx[5];

		for (size_t k = 0; k < n; k++)
			total *= n_piece;
		for (size_t c = 0; c < total; c++) {
			size_t len = 0, v = c, at = 0, ref_at = 0;

			for (size_t k = 0; k < n; k++, v /= n_piece)
				idx[k] = v % n_piece;
			for (size_t k = 0; k < n; k++) {
				memcpy(buf + len, piece[idx[k]], strlen(piece[idx[k]]));
				len += strlen(piece[idx[k]]);
			}
			buf[len] = '\0';
			assert_int_equal(utf8_json_check(buf, len, &at), ref_json(buf, len, &ref_at));
			assert_int_equal(at, ref_at);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_string_of_up_to_three_bytes),
	    cmocka_unit_test(every_four_byte_lead_and_second_byte),
	    cmocka_unit_test(every_code_point_round_trips),
	    cmocka_unit_test(valid_reports_the_first_bad_offset),
	    cmocka_unit_test(json_escapes_must_pair_surrogates),
	    cmocka_unit_test(valid_at_every_offset_of_long_ascii),
	    cmocka_unit_test(json_check_matches_the_byte_scan_on_every_piece_sequence),
	    cmocka_unit_test(sanitize_replaces_bad_bytes_and_never_cuts_a_sequence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
