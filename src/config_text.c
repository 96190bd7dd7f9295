/* config: the raw file, read by us and checked before libconfig parses it,
 * for what libconfig would get wrong quietly. */
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Reads at most max bytes of path into a NUL-terminated buffer. Returns 0,
 * -1 with errno on an I/O error, or -2 when the file is larger than max. */
int cfg_slurp(const char *path, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	int fd = -1;
	int rc = -1;
	int saved;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	/* One byte past max to tell "exactly max" from "too large". */
	buf = malloc(max + 2);
	if (!buf) {
		errno = ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			rc = -2;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	saved = errno;
	if (buf) {
		OPENSSL_cleanse(buf, max + 2);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

/* libconfig 1.5 silently truncates an integer literal that does not fit in
 * 32 bits (4294967297 reads back as 1, "L" literals likewise past 64), so
 * such a literal is an error before libconfig sees it. */
static int check_literal(struct cfg_loader *ld, unsigned line, const char *key, const char *tok,
			 size_t len)
{
	char buf[ECHO_MAX + 4];
	char num[80];
	bool hex, neg, wide;
	const char *digits;
	unsigned long long v;
	char *end = NULL;
	size_t i;

	digits = (tok[0] == '-' || tok[0] == '+') ? tok + 1 : tok;
	hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
	for (i = 0; i < len; i++) {
		if (tok[i] == '.' || (!hex && (tok[i] == 'e' || tok[i] == 'E')))
			return 0; /* a float; libconfig reads it whole */
	}
	/* Eighty digits overflow anything; echo shows the start of them. */
	if (len >= sizeof(num))
		len = sizeof(num) - 1;
	memcpy(num, tok, len);
	num[len] = '\0';
	if (len == sizeof(num) - 1)
		return cfg_fail_at(ld, line, "%s: integer %s is out of range", key,
				   cfg_echo(num, buf));
	neg = num[0] == '-';
	digits = neg || num[0] == '+' ? num + 1 : num;
	/* "L" asks for 64 bits; past that strtoull reports the overflow. */
	wide = num[len - 1] == 'L';

	errno = 0;
	v = strtoull(hex ? digits + 2 : digits, &end, hex ? 16 : 10);
	if (end == digits || (hex && end == digits + 2))
		return 0; /* not a number at all: libconfig's syntax error */
	if (wide) {
		while (*end == 'L')
			end++;
	}
	if (*end != '\0')
		return 0;
	if (errno == ERANGE || (wide && v > (unsigned long long)LLONG_MAX + (neg ? 1 : 0)) ||
	    (!wide && v > (unsigned long long)INT_MAX + (neg ? 1 : 0)))
		return cfg_fail_at(ld, line, "%s: integer %s is out of range", key,
				   cfg_echo(num, buf));
	return 0;
}

/* Checks the raw text for what libconfig would get wrong quietly: oversized
 * integers, and @include, which pulls in files whose lines this loader would
 * misattribute. Strings and comments are skipped as libconfig's scanner does. */
int cfg_prescan(struct cfg_loader *ld, const char *p)
{
	/* The setting a number belongs to, for the message. */
	char key[ECHO_MAX + 1] = "value";
	unsigned line = 1;

	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++) {
				if (*p == '\n')
					line++;
			}
			if (*p)
				p += 2;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (*p == '\n')
					line++;
			}
			if (*p)
				p++;
		} else if (starts_with(p, "@include")) {
			return cfg_fail_at(ld, line, "@include is not supported");
		} else if (is_alpha(*p) || *p == '*') {
			/* A setting name (or true/false): digits in it are no number. */
			const char *name = p;
			const char *next;

			while (is_alnum(*p) || *p == '_' || *p == '-' || *p == '*')
				p++;
			next = p + strspn(p, " \t\r\n");
			if ((*next == '=' || *next == ':') && (size_t)(p - name) < sizeof(key)) {
				memcpy(key, name, (size_t)(p - name));
				key[p - name] = '\0';
			}
		} else if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1]))) {
			const char *tok = p++;

			while (is_alnum(*p) || *p == '.' ||
			       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
			if (check_literal(ld, line, key, tok, (size_t)(p - tok)) != 0)
				return -1;
		} else {
			p++;
		}
	}
	return 0;
}
