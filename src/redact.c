/* redact: URLs without their credentials and foreign text without terminal
 * controls, for everything the bridge prints or logs (redact.h). */
#include "hsbridge/redact.h"
#include "hsbridge/utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Appends n bytes of s at *at in out, cutting at the end of out. */
static void put(char *out, size_t len, size_t *at, const char *s, size_t n)
{
	size_t room = *at < len ? len - 1 - *at : 0;

	if (n > room)
		n = room;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = '\0';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '-' || c == '_' || c == '~' || c == '%';
}

/* Whether the n bytes at a read as host[:port] (a name, an IPv4 address or
 * a bracketed IPv6 one), so that nothing in them can be a credential. */
static bool clean_authority(const char *a, size_t n)
{
	size_t i = 0;

	if (n > 0 && a[0] == '[') {
		while (i < n && a[i] != ']')
			i++;
		if (i == n)
			return false;
		i++;
	} else {
		while (i < n && is_host_char(a[i]))
			i++;
		if (i == 0)
			return false;
	}
	if (i == n)
		return true;
	if (a[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++) {
		if (!is_digit(a[i]))
			return false;
	}
	return true;
}

/* The last '@' among the first n bytes of s, or NULL. */
static const char *last_at(const char *s, size_t n)
{
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '@')
			found = s + i;
	}
	return found;
}

/* Where the host starts in rest (what follows "scheme://"): after the
 * userinfo, if there is one. RFC 3986 ends the authority at the first '/',
 * '?' or '#', and its userinfo at an '@'. A password with an unencoded
 * '/', '?' or '#' breaks that reading; such a URL shows an '@' after an
 * authority that is no host[:port], or after one that a query or fragment
 * follows directly: then the last '@' anywhere ends the userinfo. */
static const char *host_start(const char *rest)
{
	size_t before_query = strcspn(rest, "?#");
	size_t authority = strcspn(rest, "/?#");
	const char *at = last_at(rest, before_query);

	if (at)
		return at + 1;
	at = strrchr(rest, '@');
	if (at && (!clean_authority(rest, authority) || rest[authority] != '/'))
		return at + 1;
	return rest;
}

char *redact_url(const char *url, char *out, size_t len)
{
	const char *sep = strstr(url, "://");
	const char *rest = sep ? sep + 3 : url;
	const char *host;
	size_t at = 0;

	if (len == 0)
		return out;
	out[0] = '\0';
	put(out, len, &at, url, (size_t)(rest - url));
	host = host_start(rest);
	put(out, len, &at, host, strcspn(host, "?#"));
	return out;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || c == '\'' ||
	       c == '<' || c == '>';
}

char *redact_urls_in(const char *text, char *out, size_t len)
{
	size_t at = 0;
	const char *p = text;

	if (len == 0)
		return out;
	out[0] = '\0';
	while (*p) {
		size_t blank = strspn(p, " \t\r\n\"'<>");
		size_t word = 0;
		char token[1024];
		char shown[1024];

		put(out, len, &at, p, blank);
		p += blank;
		while (p[word] && !is_blank(p[word]))
			word++;
		if (word == 0)
			continue;
		if (word >= sizeof(token)) {
			/* Too long to be sure of: withheld. */
			put(out, len, &at, "(long word withheld)", 20);
		} else {
			memcpy(token, p, word);
			token[word] = '\0';
			if (strstr(token, "://"))
				redact_url(token, shown, sizeof(shown));
			else
				snprintf(shown, sizeof(shown), "%s", token);
			put(out, len, &at, shown, strlen(shown));
		}
		p += word;
	}
	return out;
}

/* The length of the valid UTF-8 character at s (at most n bytes), or 0.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid.
 * *cp gets the code point. */
static size_t utf8_char(const unsigned char *s, size_t n, unsigned *cp)
{
	static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t need;
	unsigned c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[need] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return need;
}

/* Code points a terminal acts on instead of showing: C0 (but newline and
 * tab), DEL, C1, the bidirectional embeddings, overrides, isolates and
 * marks that reorder what is shown, and the invisible ones: zero-width
 * space/joiners (U+200B-U+200D), line and paragraph separators, word
 * joiner and invisible operators (U+2060-U+2064), BOM. */
static bool is_control(unsigned cp)
{
	if (cp == '\n' || cp == '\t')
		return false;
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

size_t redact_controls(const char *in, size_t len, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, at = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	while (i < len) {
		unsigned cp = 0;
		size_t n = utf8_char(s + i, len - i, &cp);
		size_t need = n == 0 ? 4 : is_control(cp) ? 4 * n : n;

		if (at + need >= outlen)
			break;
		if (n > 0 && !is_control(cp)) {
			memcpy(out + at, s + i, n);
		} else {
			if (n == 0)
				n = 1;
			for (size_t k = 0; k < n; k++)
				snprintf(out + at + 4 * k, 5, "\\x%02x", s[i + k]);
		}
		at += need;
		i += n;
		out[at] = '\0';
	}
	return i;
}

/* Appends n bytes of s to out at *at, as far as they fit with the NUL;
 * false when they did not all fit. */
static bool put_some(char *out, size_t len, size_t *at, const char *s, size_t n, bool whole)
{
	size_t room = len - 1 - *at;

	if (n > room) {
		if (!whole) {
			memcpy(out + *at, s, room);
			*at += room;
		}
		return false;
	}
	memcpy(out + *at, s, n);
	*at += n;
	return true;
}

char *redact_secret(const char *text, const char *secret, char *out, size_t len)
{
	size_t n = secret ? strlen(secret) : 0;
	size_t at = 0;
	const char *p = text;
	const char *hit;

	if (len == 0)
		return out;
	while (n > 0 && (hit = strstr(p, secret)) != NULL) {
		if (!put_some(out, len, &at, p, (size_t)(hit - p), false) ||
		    !put_some(out, len, &at, "***", 3, true))
			goto done;
		p = hit + n;
	}
	(void)put_some(out, len, &at, p, strlen(p), false);
done:
	out[at] = '\0';
	return out;
}

/* The byte that the form at buf[at] spells, with *used set to its length
 * (1 for a raw byte, which is what a byte that starts no form spells). */
static int echo_byte(const char *buf, size_t len, size_t at, size_t *used)
{
	static const char from[] = "/\\\"bfnrt", to[] = "/\\\"\b\f\n\r\t";
	const char *esc;
	int v;

	*used = 1;
	if (buf[at] == '+')
		return ' ';
	if (buf[at] == '%' && at + 3 <= len && (v = utf8_hex(buf + at + 1, 2)) >= 0) {
		*used = 3;
		return v;
	}
	if (buf[at] != '\\' || at + 2 > len)
		return (unsigned char)buf[at];
	/* Up to 0xff: a server that reads header bytes as Latin-1 (Python's
	 * http.server, WSGI) writes each byte of a UTF-8 value as one \u00XX. */
	if (buf[at + 1] == 'u' && at + 6 <= len && (v = utf8_hex(buf + at + 2, 4)) >= 0 &&
	    v <= 0xff) {
		*used = 6;
		return v;
	}
	if (buf[at + 1] != '\0' && (esc = strchr(from, buf[at + 1])) != NULL) {
		*used = 2;
		return (unsigned char)to[esc - from];
	}
	return (unsigned char)buf[at];
}

/* Whether buf from at to its end is the start of a form that the end cut
 * short: "%" or "%X", "\\", "\\u" with up to three hex digits. */
static bool partial_form(const char *buf, size_t len, size_t at)
{
	size_t n = len - at, hex = 0;

	if (buf[at] == '%')
		hex = 1;
	else if (buf[at] == '\\' && (n == 1 || buf[at + 1] == 'u'))
		hex = 2;
	else
		return false;
	if (n >= (hex == 1 ? 3 : 6))
		return false;
	for (size_t i = at + hex; i < len; i++) {
		if (utf8_hex(buf + i, 1) < 0)
			return false;
	}
	return true;
}

/* How many bytes of buf from at spell value, reading every form, or 0.
 * Greedy: a byte that starts a form is read as the form when it spells the
 * value's byte (redact_echo also tries the raw bytes alone). With cut, buf
 * ending while it still spells value counts as a match of what is there. */
static size_t echo_match(const char *buf, size_t len, size_t at, const char *value, bool cut)
{
	size_t start = at;

	for (; *value; value++) {
		size_t used = 1;

		if (at >= len)
			return cut ? at - start : 0;
		if (cut && partial_form(buf, len, at))
			return len - start;
		if (echo_byte(buf, len, at, &used) != (unsigned char)*value) {
			if ((unsigned char)buf[at] != (unsigned char)*value)
				return 0;
			used = 1;
		}
		at += used;
	}
	return at - start;
}

size_t redact_echo(char *buf, size_t len, const char *value, bool cut)
{
	size_t spans = 0, raw = value ? strlen(value) : 0;

	if (raw < REDACT_ECHO_MIN)
		return 0;
	for (size_t at = 0; at < len;) {
		size_t n = raw;

		if (at + n > len || memcmp(buf + at, value, n) != 0)
			n = echo_match(buf, len, at, value, cut);
		if (n == 0) {
			at++;
			continue;
		}
		memset(buf + at, '*', n);
		at += n;
		spans++;
	}
	return spans;
}
