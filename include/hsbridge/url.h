/* url: AMQP broker URLs taken apart, and the metrics listener's address. A
 * leaf: config, broker, cli, mgmt and metrics use it; it uses only
 * rabbitmq-c's parser and libc. */
#ifndef HSBRIDGE_URL_H
#define HSBRIDGE_URL_H

#include <stddef.h>

#include <amqp.h>

/* A broker URL taken apart. ci points into buf, a copy of the URL that
 * holds the password: release it with url_amqp_clear, which wipes it. */
struct url_amqp {
	struct amqp_connection_info ci;
	char *buf;
	size_t len;
};

/* Returns 0, or -1 when url is not an amqp:// or amqps:// URL amqp can parse
 * (u is then clear). Missing parts take rabbitmq-c's defaults: guest:guest,
 * localhost, 5672 (amqps: 5671), vhost "/". */
int url_amqp_parse(const char *url, struct url_amqp *u) __attribute__((warn_unused_result));
/* Wipes and frees the copy, then zeroes u. A clear u is fine. */
void url_amqp_clear(struct url_amqp *u);

/* The node a broker URL names, "host:port" ("[v6]:port"), without user,
 * password or vhost: how log lines and messages name a node. Writes
 * "(invalid URL)" for a URL url_amqp_parse refuses. */
void url_amqp_node(const char *url, char *buf, size_t len);
/* The broker URL without its password, as `check` shows it:
 * "scheme://host:port, vhost V, user U", from the parsed URL so that no
 * spelling of the password slips through; "(invalid URL)" likewise. */
void url_amqp_show(const char *url, char *buf, size_t len);

/* A listen address (metrics.listen) taken apart. */
struct url_listen {
	int family;    /* AF_INET or AF_INET6 */
	char host[48]; /* the numeric address, without brackets */
	unsigned port; /* 0: any free port (the kernel picks one) */
};

/* "host:port" with host an IPv4 address, an IPv6 address in brackets
 * ("[::1]:9464") or "localhost" (127.0.0.1), and port 0-65535 in decimal.
 * Names are not resolved: no I/O. Returns 0, or -1 (out is then zeroed). */
int url_listen_parse(const char *s, struct url_listen *out) __attribute__((warn_unused_result));

#endif
