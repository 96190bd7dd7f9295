/* redact: what the bridge may show of text it did not write. URLs lose
 * their credentials, foreign text its terminal control sequences, an
 * endpoint's echo the subscription's header values. A leaf: pure functions
 * of libc and utf8 (another leaf), used by cli, mgmt, dispatch, broker and
 * config. */
#ifndef HSBRIDGE_REDACT_H
#define HSBRIDGE_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* url for display: scheme://host[:port][/path], without user, password,
 * query or fragment (tokens and keys travel there). When the URL is too
 * odd to tell the host from the credentials (an unencoded '/', '?' or '#'
 * before an '@'), everything up to the last '@' goes: over-redacting is the
 * safe mistake. Always NUL-terminates out (len > 0); a result longer than
 * out is cut. Returns out. */
char *redact_url(const char *url, char *out, size_t len);

/* text (an error message) with every URL in it, a run of non-blank
 * characters holding "://", passed through redact_url. Returns out. */
char *redact_urls_in(const char *text, char *out, size_t len);

/* len bytes of foreign text (an HTTP response body) made safe for a
 * terminal: C0 controls but newline and tab, DEL, C1 controls, the Unicode
 * bidirectional controls and marks, the invisible ones (zero-width
 * characters, line and paragraph separators, word joiner, BOM) and bytes
 * that are not UTF-8 are written as
 * \xHH (one per byte); valid UTF-8 text passes unchanged (a backslash
 * too: JSON answers are full of them, and only raw bytes reach a terminal's
 * parser). Never splits an escape or a character at the end of out.
 * Always NUL-terminates out (outlen > 0). Returns how many input bytes were
 * written (len when all of them fitted). */
size_t redact_controls(const char *in, size_t len, char *out, size_t outlen);

/* text with every occurrence of secret replaced by "***", scanning on past
 * each replacement (a secret inside "***" cannot match again). Always
 * NUL-terminates out (len > 0); a result longer than out is cut, never in
 * the middle of a "***". An empty or NULL secret copies text. Returns out. */
char *redact_secret(const char *text, const char *secret, char *out, size_t len);

/* Values shorter than this are left alone by redact_echo: too short to be
 * a credential, and overwriting them would star a digit or a word
 * everywhere in the answer. */
#define REDACT_ECHO_MIN 4

/* Overwrites with '*', in place, every span of buf (len bytes, not
 * NUL-terminated) that spells value (NUL-terminated), byte by byte, in any
 * mix of these forms: the raw byte; a JSON escape (\/, \\, \", \b \f
 * \n \r \t, \u00XX for a byte, as a Latin-1 reading writes it); a
 * percent-encoded byte (%XX,
 * either case); a '+' for a space (a form). An endpoint's answer that
 * echoes a request header (a JSON echo service, PHP's json_encode, a
 * URL-encoded form) holds it in one of them. With cut (buf is the start of
 * a longer answer), a tail of buf that spells the start of value is
 * overwritten too: the value may go on past the cut. Not recognised: a
 * value whose letters changed case, a non-ASCII character written as its
 * code point (\u00e9 for the two bytes of é), an echo encoded twice (\\\/,
 * %252F), a form read where the value means the raw bytes once another
 * byte of the same echo is escaped (reading is greedy), HTML entities,
 * base64. Returns how many spans
 * were overwritten. A value shorter than REDACT_ECHO_MIN (or NULL)
 * overwrites nothing. */
size_t redact_echo(char *buf, size_t len, const char *value, bool cut);
#endif
