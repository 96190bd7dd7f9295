/* utf8: strict UTF-8 (RFC 3629) and the UTF-8 rules of JSON texts (RFC
 * 8259 section 8.2): what the bridge puts into JSON, an HTTP header or a
 * log line must pass these (DESIGN section 9). Pure code, a leaf module. */
#ifndef HSBRIDGE_UTF8_H
#define HSBRIDGE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of the valid UTF-8 sequence at s (1 to 4), or 0 when the bytes at s
 * are not one: a stray continuation byte, a truncated sequence, an overlong
 * form (C0 AF), a surrogate (ED A0 80), a code point over U+10FFFF, or a
 * byte that never occurs (F5..FF). len > 0. */
size_t utf8_seq_len(const unsigned char *s, size_t len);

/* Whether all len bytes are UTF-8; if not and at is not NULL, *at is the
 * offset of the first bad byte. */
bool utf8_valid(const char *s, size_t len, size_t *at);

enum utf8_json {
	UTF8_JSON_OK,
	UTF8_JSON_BAD_BYTES,	  /* the text is not UTF-8 */
	UTF8_JSON_LONE_SURROGATE, /* a \uD800-\uDFFF escape that is not half of a pair */
};

/* A JSON text's UTF-8 beyond its grammar (which the parser checks): the
 * bytes are UTF-8 and every \u escape of a surrogate is a high one followed
 * at once by a low one. *at: offset of the first problem. */
enum utf8_json utf8_json_check(const char *s, size_t len, size_t *at);

/* The value of the n hex digits at s (either case; n at most 7), or -1
 * when one of them is not a hex digit: the XXXX of a JSON \uXXXX escape,
 * the XX of a %XX. */
int utf8_hex(const char *s, size_t n);

/* What a problem is called in a reason. */
const char *utf8_json_problem(enum utf8_json p);

/* s with every byte that is not part of a valid sequence replaced by
 * U+FFFD, NUL-terminated in out; at most outlen - 1 bytes, never cutting a
 * sequence. Returns the bytes written. */
size_t utf8_sanitize(const char *s, size_t len, char *out, size_t outlen);

#endif
