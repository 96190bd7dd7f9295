/* Unit tests for redact.c: URLs shown without credentials, query or
 * fragment (odd spellings included), URLs inside error texts, and foreign
 * text made safe for a terminal. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hsbridge/redact.h"

struct url_case {
	const char *in;
	const char *shown;
};

static void redact_url_drops_userinfo_query_and_fragment(void **state)
{
	static const struct url_case cases[] = {
	    {"http://127.0.0.1:15672", "http://127.0.0.1:15672"},
	    {"https://mq.example.com:15671/", "https://mq.example.com:15671/"},
	    {"http://admin:s3cret@mq:15672", "http://mq:15672"},
	    {"http://admin:s3cret@mq:15672/api?x=1", "http://mq:15672/api"},
	    {"http://admin@mq", "http://mq"},
	    {"http://:s3cret@mq", "http://mq"},
	    {"https://h/hook?token=s3cret", "https://h/hook"},
	    {"https://h/hook#s3cret", "https://h/hook"},
	    {"https://h/hook?token=s3cret#frag", "https://h/hook"},
	    {"https://h?token=s3cret", "https://h"},
	    {"http://[::1]:15672/api", "http://[::1]:15672/api"},
	    {"http://u:s3cret@[::1]:15672", "http://[::1]:15672"},
	    /* an '@' in the userinfo itself: the last one before the host */
	    {"http://u@x:s3cret@mq/", "http://mq/"},
	    /* unencoded '/', '?' or '#' in the password */
	    {"http://u:s3/cret@mq/", "http://mq/"},
	    {"http://u:s3?cret@mq/", "http://mq/"},
	    {"http://u:s3#cret@mq/", "http://mq/"},
	    {"http://u:1234?s3cret@mq", "http://mq"},
	    {"http://u:1234#s3cret@mq", "http://mq"},
	    {"http://u:1234/s3cret@mq", "http://mq"},
	    /* an '@' in a query or fragment after a clean host and a path */
	    {"https://h/hook?to=a@b.c", "https://h/hook"},
	    {"https://h/hook#a@b", "https://h/hook"},
	    /* no scheme: the same rules from the start */
	    {"u:s3cret@mq:15672", "mq:15672"},
	    {"mq:15672", "mq:15672"},
	    {"", ""},
	    {"http://", "http://"},
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redact_url(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].shown) != 0)
			fail_msg("redact_url(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out,
				 cases[i].shown);
		if (strstr(out, "s3cret") || strstr(out, "s3/") || strstr(out, "s3?"))
			fail_msg("redact_url(\"%s\") shows the secret", cases[i].in);
	}
}

static void redact_url_cuts_to_the_buffer_and_terminates(void **state)
{
	char out[12];
	char one[1] = {'x'};

	(void)state;
	memset(out, 'z', sizeof(out));
	assert_ptr_equal(redact_url("https://u:p@example.com/x", out, sizeof(out)), out);
	assert_string_equal(out, "https://exa");
	redact_url("https://u:p@h", one, sizeof(one));
	assert_int_equal(one[0], '\0');
	/* len 0: nothing written, no crash */
	redact_url("https://u:p@h", NULL, 0);
}

static void redact_urls_in_redacts_each_url_of_a_text(void **state)
{
	static const struct url_case cases[] = {
	    {"Could not resolve host: mq", "Could not resolve host: mq"},
	    {"GET http://u:s3cret@mq/api?t=s3cret failed",
	     "GET http://mq/api failed"},
	    {"a https://h/x?k=s3cret and \"ftp://u:s3cret@h\"",
	     "a https://h/x and \"ftp://h\""},
	    {"(http://u:s3cret@h)", "(http://h)"},
	    {"no url here", "no url here"},
	    {"  spaced\tout\n", "  spaced\tout\n"},
	    {"", ""},
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redact_urls_in(cases[i].in, out, sizeof(out));
		if (strcmp(out, cases[i].shown) != 0)
			fail_msg("redact_urls_in(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out,
				 cases[i].shown);
	}
}

static void redact_urls_in_withholds_words_too_long_to_check(void **state)
{
	char in[3000];
	char out[4096];

	(void)state;
	memset(in, 'a', sizeof(in));
	memcpy(in, "x http://u:s3cret@", 18);
	in[sizeof(in) - 1] = '\0';
	redact_urls_in(in, out, sizeof(out));
	assert_string_equal(out, "x (long word withheld)");
}

struct ctl_case {
	const char *in;
	size_t len;
	const char *shown;
};

#define C(s, shown) {s, sizeof(s) - 1, shown}

static void redact_controls_escapes_what_a_terminal_acts_on(void **state)
{
	static const struct ctl_case cases[] = {
	    C("plain {\"ok\":true}", "plain {\"ok\":true}"),
	    C("two\nlines\tand tab", "two\nlines\tand tab"),
	    C("back\\slash", "back\\slash"),
	    C("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
	    C("cr\rover", "cr\\x0dover"),
	    C("nul\0byte", "nul\\x00byte"),
	    C("del\x7f", "del\\x7f"),
	    /* C1 CSI as UTF-8 (U+009B) and as a lone byte */
	    C("c1 \xc2\x9b" "31m", "c1 \\xc2\\x9b31m"),
	    C("raw \x9b" "31m", "raw \\x9b31m"),
	    /* bidi override U+202E and isolate U+2066 */
	    C("\xe2\x80\xae" "abc", "\\xe2\\x80\\xaeabc"),
	    C("\xe2\x81\xa6" "x", "\\xe2\\x81\\xa6x"),
	    /* line and paragraph separators, zero-width and directional marks,
	     * word joiner, BOM: invisible or moving text in a terminal */
	    C("a\xe2\x80\xa8" "b", "a\\xe2\\x80\\xa8b"),
	    C("a\xe2\x80\xa9" "b", "a\\xe2\\x80\\xa9b"),
	    C("a\xe2\x80\x8b" "b", "a\\xe2\\x80\\x8bb"),
	    C("a\xe2\x80\x8e" "b", "a\\xe2\\x80\\x8eb"),
	    C("a\xe2\x81\xa0" "b", "a\\xe2\\x81\\xa0b"),
	    C("a\xef\xbb\xbf" "b", "a\\xef\\xbb\\xbfb"),
	    /* their neighbours stay: U+2027, U+202F, U+2070 */
	    C("\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xb0", "\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xb0"),
	    /* valid UTF-8 text passes */
	    C("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    /* not UTF-8: overlong, surrogate, past U+10FFFF, truncated, stray */
	    C("\xc0\xaf", "\\xc0\\xaf"),
	    C("\xed\xa0\x80", "\\xed\\xa0\\x80"),
	    C("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"),
	    C("end \xe2\x82", "end \\xe2\\x82"),
	    C("\x80", "\\x80"),
	    C("\xff\xfe", "\\xff\\xfe"),
	    C("", ""),
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t used = redact_controls(cases[i].in, cases[i].len, out, sizeof(out));

		if (strcmp(out, cases[i].shown) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, out, cases[i].shown);
		assert_int_equal(used, cases[i].len);
	}
}

static void redact_controls_never_splits_at_the_end_of_out(void **state)
{
	char out[8];

	(void)state;
	/* "ab" fits, the escape of ESC (4 bytes) would need 7 of 8: fits; the
	 * next escape does not */
	assert_int_equal(redact_controls("ab\x1b\x1b", 4, out, sizeof(out)), 3);
	assert_string_equal(out, "ab\\x1b");
	/* a 4-byte character that does not fit whole is left out whole */
	assert_int_equal(redact_controls("abcd\xf0\x9f\x98\x80", 8, out, sizeof(out)), 4);
	assert_string_equal(out, "abcd");
	assert_int_equal(redact_controls("abc", 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(redact_controls("abc", 3, NULL, 0), 0);
}

/* Passwords that are part of "***" (issue 10 attack review: "*" looped
 * for ever and overflowed), shorter than "***", repeated, and outputs cut
 * at every length: never the secret, never a partial "***", always a NUL. */
static void redact_secret_replaces_every_occurrence_once(void **state)
{
	static const struct {
		const char *text, *secret, *want;
	} cases[] = {
	    {"user * refused", "*", "user *** refused"},
	    {"** and *", "**", "*** and *"},
	    {"***", "*", "*********"},
	    {"abcabc", "abc", "******"},
	    {"xax", "x", "***a***"},
	    {"no match", "zz", "no match"},
	    {"keep", "", "keep"},
	    {"keep", NULL, "keep"},
	    {"", "s3cret", ""},
	    {"login s3cret failed s3cret", "s3cret", "login *** failed ***"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(redact_secret(cases[i].text, cases[i].secret, out, sizeof(out)),
				    cases[i].want);
	}
	for (size_t len = 1; len <= 24; len++) {
		char cut[24];
		size_t n;

		redact_secret("pw pw: the pw was pw", "pw", cut, len);
		n = strlen(cut);
		assert_true(n < len);
		assert_null(strstr(cut, "pw"));
		/* a "***" is whole or absent: stars come in threes */
		for (size_t j = 0, run = 0; j <= n; j++) {
			if (cut[j] == '*') {
				run++;
			} else {
				assert_int_equal(run % 3, 0);
				run = 0;
			}
		}
	}
}

struct echo_case {
	const char *value;
	const char *in;
	const char *out;
	size_t spans;
};

static void check_echo_cases(const struct echo_case *cases, size_t n, bool cut)
{
	char buf[128];

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(cases[i].in), spans;

		memcpy(buf, cases[i].in, len + 1);
		spans = redact_echo(buf, len, cases[i].value, cut);
		if (strcmp(buf, cases[i].out) != 0 || spans != cases[i].spans)
			fail_msg("case %zu%s: redact_echo(\"%s\") = \"%s\" (%zu spans), want \"%s\" (%zu)",
				 i, cut ? " (cut)" : "", cases[i].in, buf, spans, cases[i].out,
				 cases[i].spans);
	}
}

static void redact_echo_overwrites_every_form_of_the_value(void **state)
{
	static const struct echo_case cases[] = {
	    /* raw, once and twice, and at both ends */
	    {"Bearer s3cr/t", "{\"a\":\"Bearer s3cr/t\"}", "{\"a\":\"*************\"}", 1},
	    {"tok1", "tok1 tok1", "**** ****", 2},
	    {"tok1", "tok1", "****", 1},
	    /* JSON escapes: PHP's json_encode writes \/ */
	    {"Bearer s3cr/t", "\"Bearer s3cr\\/t\"", "\"**************\"", 1},
	    {"a\"b\\c", "\"a\\\"b\\\\c\"", "\"*******\"", 1},
	    {"abcd", "\\u0061\\u0062cd", "**************", 1},
	    {"aBcd", "\\u0061\\u0042cd", "**************", 1},
	    {"a\tbc", "a\\tbc", "*****", 1},
	    /* percent-encoded, either case, and a form's '+' for a space */
	    {"k/y=1", "k%2Fy%3d1", "*********", 1},
	    {"Bearer x", "Bearer+x&", "********&", 1},
	    {"Bearer x", "Bearer%20x", "**********", 1},
	    /* a mix of forms in one echo */
	    {"a/b c", "a\\/b%20c", "********", 1},
	    /* the raw form wins where a form would read it otherwise */
	    {"a%41", "a%41", "****", 1},
	    {"a\\\\\\\\", "a\\\\\\\\", "*****", 1},
	    {"p\\nq", "p\\nq", "****", 1},
	    /* near misses stay */
	    {"secret", "secre", "secre", 0},
	    {"secret", "secreT", "secreT", 0},
	    {"secret", "SECRET", "SECRET", 0},
	    {"secret", "secr%65t", "********", 1},
	    {"secret", "secr%65", "secr%65", 0},
	    {"secret", "secr%6", "secr%6", 0},
	    {"secret", "secr\\u006", "secr\\u006", 0},
	    {"secret", "secr\\", "secr\\", 0},
	    {"secret", "secr%zz", "secr%zz", 0},
	    /* \u00XX is a byte, as a Latin-1 reading of the header writes it;
	     * a code point beyond (or é's own \u00e9) is not recognised */
	    {"\xc3\xa9t\xc3\xa9", "\\u00c3\\u00a9t\\u00c3\\u00a9", "*************************", 1},
	    {"\xc3\xa9t\xc3\xa9", "\\u00e9t\\u00e9", "\\u00e9t\\u00e9", 0},
	    {"abcd", "\\u0161bcd", "\\u0161bcd", 0},
	    /* overlapping: scanning goes on past each span */
	    {"aaaa", "aaaaa", "****a", 1},
	    /* too short to be a credential, and nothing to look for */
	    {"abc", "abc", "abc", 0},
	    {"1", "v1 and 1", "v1 and 1", 0},
	    {"", "abc", "abc", 0},
	    {NULL, "abc", "abc", 0},
	};

	(void)state;
	check_echo_cases(cases, sizeof(cases) / sizeof(cases[0]), false);
}

static void redact_echo_of_a_cut_answer_overwrites_a_tail_that_starts_the_value(void **state)
{
	/* cut: the answer went on past buf; a value crossing the cut leaves
	 * its start at buf's end, in any form */
	static const struct echo_case cut[] = {
	    {"Bearer tok/en", "xxx Bearer tok/en xxx Bearer tok", "xxx ************* xxx **********", 2},
	    {"Bearer tok/en", "xx Bearer tok\\/", "xx ************", 1},
	    {"Bearer tok/en", "xx Bearer+tok%2", "xx ************", 1},
	    {"Bearer tok/en", "xx Bearer tok\\u00", "xx **************", 1},
	    {"Bearer tok/en", "xx Bearer tok\\", "xx ***********", 1},
	    {"Bearer tok/en", "xx Bearer tok%zz", "xx Bearer tok%zz", 0},
	    {"Bearer tok/en", "xx Bearer+tok%2F", "xx *************", 1},
	    {"Bearer tok/en", "xxB", "xx*", 1},
	    {"Bearer tok/en", "xx Bearex", "xx Bearex", 0},
	};
	/* not cut: a tail that only starts the value stays */
	static const struct echo_case whole[] = {
	    {"Bearer tok/en", "xxx Bearer tok", "xxx Bearer tok", 0},
	};

	(void)state;
	check_echo_cases(cut, sizeof(cut) / sizeof(cut[0]), true);
	check_echo_cases(whole, sizeof(whole) / sizeof(whole[0]), false);
}

static void redact_echo_stays_within_len(void **state)
{
	/* buf is not NUL-terminated: a value that would match with the bytes
	 * after len must not, and nothing past len is touched. */
	char buf[16] = "xxx%2";

	(void)state;
	assert_int_equal(redact_echo(buf, 4, "xxx%", false), 1);
	assert_string_equal(buf, "****2");
	memcpy(buf, "abc\\u", 6);
	assert_int_equal(redact_echo(buf, 4, "abc\\", false), 1);
	assert_string_equal(buf, "****u");
	memcpy(buf, "abc%41", 7);
	assert_int_equal(redact_echo(buf, 5, "abcA", false), 0);
	assert_string_equal(buf, "abc%41");
	/* cut at len: the %4 there is not read as a form past len */
	assert_int_equal(redact_echo(buf, 5, "abc%4x", true), 1);
	assert_string_equal(buf, "*****1");
}

static void redact_echo_is_linear_on_hostile_answers(void **state)
{
	/* 4 KiB of backslashes and of percents against long values that they
	 * almost spell: every start is tried once, without backtracking */
	static char buf[4096];
	char value[512];

	(void)state;
	memset(value, '\\', sizeof(value) - 2);
	value[sizeof(value) - 2] = 'x';
	value[sizeof(value) - 1] = '\0';
	memset(buf, '\\', sizeof(buf));
	assert_int_equal(redact_echo(buf, sizeof(buf), value, false), 0);
	memset(value, '%', sizeof(value) - 2);
	for (size_t i = 0; i < sizeof(buf); i += 3)
		memcpy(buf + i, "%25", sizeof(buf) - i < 3 ? sizeof(buf) - i : 3);
	assert_int_equal(redact_echo(buf, sizeof(buf), value, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(redact_url_drops_userinfo_query_and_fragment),
	    cmocka_unit_test(redact_url_cuts_to_the_buffer_and_terminates),
	    cmocka_unit_test(redact_urls_in_redacts_each_url_of_a_text),
	    cmocka_unit_test(redact_urls_in_withholds_words_too_long_to_check),
	    cmocka_unit_test(redact_controls_escapes_what_a_terminal_acts_on),
	    cmocka_unit_test(redact_controls_never_splits_at_the_end_of_out),
	    cmocka_unit_test(redact_secret_replaces_every_occurrence_once),
	    cmocka_unit_test(redact_echo_overwrites_every_form_of_the_value),
	    cmocka_unit_test(redact_echo_of_a_cut_answer_overwrites_a_tail_that_starts_the_value),
	    cmocka_unit_test(redact_echo_stays_within_len),
	    cmocka_unit_test(redact_echo_is_linear_on_hostile_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
