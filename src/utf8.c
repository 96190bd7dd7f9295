/* utf8: strict UTF-8 and JSON's surrogate escapes (utf8.h). */
#include "hsbridge/utf8.h"

#include <stdint.h>
#include <string.h>

static bool cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return len >= 2 && cont(s[1]) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (len < 3 || !cont(s[1]) || !cont(s[2]))
			return 0;
		/* E0 80..9F would be overlong, ED A0..BF a surrogate. */
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (len < 4 || !cont(s[1]) || !cont(s[2]) || !cont(s[3]))
			return 0;
		/* F0 80..8F would be overlong, F4 90.. beyond U+10FFFF. */
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* Bytes from i on that are all ASCII, eight at a time: bodies are mostly
 * ASCII, and a call per byte was the bridge's own largest cost per delivery. */
static size_t ascii_run(const unsigned char *u, size_t len, size_t i)
{
	uint64_t word;

	while (len - i >= sizeof(word)) {
		memcpy(&word, u + i, sizeof(word));
		if (word & UINT64_C(0x8080808080808080))
			break;
		i += sizeof(word);
	}
	while (i < len && u[i] < 0x80)
		i++;
	return i;
}

bool utf8_valid(const char *s, size_t len, size_t *at)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while ((i = ascii_run(u, len, i)) < len) {
		size_t n = utf8_seq_len(u + i, len - i);

		if (n == 0) {
			if (at)
				*at = i;
			return false;
		}
		i += n;
	}
	return true;
}

int utf8_hex(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'	 ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int hex4(const char *s, size_t left)
{
	return left < 4 ? -1 : utf8_hex(s, 4);
}

/* At s[i] == '\\' inside a string: the escape's length, or 0 for a lone
 * surrogate. A malformed escape is the parser's to refuse: skip it. */
static size_t escape_len(const char *s, size_t len, size_t i)
{
	int cp, low;

	if (i + 1 >= len || s[i + 1] != 'u')
		return 2;
	cp = hex4(s + i + 2, len - i - 2);
	if (cp < 0xd800 || cp > 0xdfff)
		return 2;
	if (cp >= 0xdc00)
		return 0;
	if (i + 7 >= len || s[i + 6] != '\\' || s[i + 7] != 'u')
		return 0;
	low = hex4(s + i + 8, len - i - 8);
	return low >= 0xdc00 && low <= 0xdfff ? 12 : 0;
}

/* The offset of the first '"' at or after i, or len. */
static size_t next_quote(const char *s, size_t len, size_t i)
{
	const char *q = memchr(s + i, '"', len - i);

	return q ? (size_t)(q - s) : len;
}

/* memchr finds the only bytes that matter: outside strings a quote, inside
 * one a backslash before its closing quote. The closing quote is found once
 * per string unless an escape steps over it, so this stays one pass. */
enum utf8_json utf8_json_check(const char *s, size_t len, size_t *at)
{
	size_t i = 0;

	if (!utf8_valid(s, len, at))
		return UTF8_JSON_BAD_BYTES;
	while (i < len) {
		size_t quote;

		i = next_quote(s, len, i) + 1; /* inside a string */
		if (i > len)
			break;
		quote = next_quote(s, len, i);
		for (;;) {
			const char *b = memchr(s + i, '\\', quote - i);
			size_t n;

			if (!b)
				break;
			i = (size_t)(b - s);
			n = escape_len(s, len, i);
			if (n == 0) {
				if (at)
					*at = i;
				return UTF8_JSON_LONE_SURROGATE;
			}
			i += n;
			if (i >= len)
				return UTF8_JSON_OK;
			if (i > quote)
				quote = next_quote(s, len, i);
		}
		i = quote + 1;
	}
	return UTF8_JSON_OK;
}

const char *utf8_json_problem(enum utf8_json p)
{
	switch (p) {
	case UTF8_JSON_OK:
		return "valid";
	case UTF8_JSON_BAD_BYTES:
		return "bytes that are not UTF-8";
	case UTF8_JSON_LONE_SURROGATE:
		return "a \\u escape of a lone surrogate";
	}
	return "?";
}

size_t utf8_sanitize(const char *s, size_t len, char *out, size_t outlen)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	if (outlen == 0)
		return 0;
	while (i < len) {
		size_t n = utf8_seq_len(u + i, len - i);
		const char *src = n ? s + i : replacement;
		size_t m = n ? n : 3;

		if (o + m >= outlen)
			break;
		memcpy(out + o, src, m);
		o += m;
		i += n ? n : 1;
	}
	out[o] = '\0';
	return o;
}
