/* url: AMQP broker URLs taken apart, with the copy that holds the password
 * wiped on release. */
#include "hsbridge/url.h"

#include <stdlib.h>
#include <string.h>

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
