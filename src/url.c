/* url: AMQP broker URLs taken apart, with the copy that holds the password
 * wiped on release. */
#include "hsbridge/url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A leaf has no OpenSSL to call OPENSSL_cleanse: memset through a volatile
 * pointer (OpenSSL's own portable fallback) is a store the compiler cannot
 * prove dead, so it is not dropped before free. */
static void *(*const volatile wipe)(void *, int, size_t) = memset;

int url_amqp_parse(const char *url, struct url_amqp *u)
{
	memset(u, 0, sizeof(*u));
	u->len = strlen(url);
	u->buf = strdup(url);
	/* amqp_parse_url decodes in place; the copy keeps the caller's URL. */
	if (!u->buf || amqp_parse_url(u->buf, &u->ci) != AMQP_STATUS_OK) {
		url_amqp_clear(u);
		return -1;
	}
	return 0;
}

void url_amqp_clear(struct url_amqp *u)
{
	/* Parsing cut the copy with NULs: wipe all of it, password included. */
	if (u->buf)
		wipe(u->buf, 0, u->len);
	free(u->buf);
	memset(u, 0, sizeof(*u));
}

/* url_amqp_node's text, and with full url_amqp_show's. */
static void describe(const char *url, bool full, char *buf, size_t len)
{
	struct url_amqp u;
	bool v6;

	if (url_amqp_parse(url, &u) != 0) {
		snprintf(buf, len, "(invalid URL)");
		return;
	}
	/* An IPv6 address gets its brackets back, so that the port stands out. */
	v6 = strchr(u.ci.host, ':') != NULL;
	/* An empty vhost (amqp://host/) is shown as "", not as nothing. */
	if (full)
		snprintf(buf, len, "%s://%s%s%s:%d, vhost %s, user %s", u.ci.ssl ? "amqps" : "amqp",
			 v6 ? "[" : "", u.ci.host, v6 ? "]" : "", u.ci.port,
			 u.ci.vhost[0] ? u.ci.vhost : "\"\"", u.ci.user);
	else
		snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", u.ci.host, v6 ? "]" : "", u.ci.port);
	url_amqp_clear(&u);
}

void url_amqp_node(const char *url, char *buf, size_t len)
{
	describe(url, false, buf, len);
}

void url_amqp_show(const char *url, char *buf, size_t len)
{
	describe(url, true, buf, len);
}

/* The port after the last colon: 1-5 decimal digits, at most 65535. */
static int listen_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n] >= '0' && s[n] <= '9'; n++)
		v = v * 10 + (unsigned long)(s[n] - '0');
	if (n == 0 || n > 5 || s[n] != '\0' || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int url_listen_parse(const char *s, struct url_listen *out)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *colon;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	colon = s ? strrchr(s, ':') : NULL;
	if (!colon || listen_port(colon + 1, &out->port) != 0)
		goto bad;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		/* "[v6]:port": the bracket closes right before the colon. */
		if (hlen < 3 || s[hlen - 1] != ']' || hlen - 2 >= sizeof(out->host))
			goto bad;
		memcpy(out->host, s + 1, hlen - 2);
		out->family = AF_INET6;
	} else {
		if (hlen == 0 || hlen >= sizeof(out->host))
			goto bad;
		memcpy(out->host, s, hlen);
		out->family = AF_INET;
		if (strcmp(out->host, "localhost") == 0)
			snprintf(out->host, sizeof(out->host), "%s", "127.0.0.1");
	}
	if (inet_pton(out->family, out->host, addr) == 1)
		return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}
