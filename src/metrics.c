/* metrics: /metrics, /healthz and /readyz on libmicrohttpd in its external
 * epoll mode, so that the bridge's loop serves them between its own steps.
 * The listening socket is ours (the errors say why a bind failed, and port
 * 0 can be reported); MHD takes it over. */
#include "hsbridge/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "hsbridge/clock.h"
#include "hsbridge/url.h"

#define LISTEN_BACKLOG 64
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define EXPOSITION "text/plain; version=0.0.4; charset=utf-8"

/* One open connection, from MHD's connection notifications: when it came,
 * and whether its request got as far as an answer. */
struct conn {
	int fd; /* -1: free */
	long long since_ms;
	bool answered;
	bool shut; /* shutdown() sent: MHD closes it at its next turn */
};

struct metrics {
	struct MHD_Daemon *d;
	struct conn conns[METRICS_CONNS];
	int epoll_fd;
	struct metrics_pages pages;
	char *listen;
	char bound[80];
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, TEXT_PLAIN, (char *)text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result serve_metrics(struct metrics *m, struct MHD_Connection *c)
{
	char *body = NULL;
	size_t len = 0;

	if (m->pages.render(m->pages.arg, &body, &len) != 0)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return reply(c, MHD_HTTP_OK, EXPOSITION, body, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_ready(struct metrics *m, struct MHD_Connection *c)
{
	const char *why = m->pages.not_ready(m->pages.arg);
	char text[128];

	if (!why)
		return reply_text(c, MHD_HTTP_OK, "ready\n");
	snprintf(text, sizeof(text), "not ready: %s\n", why);
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

/* ---------------------------------------------- connection deadlines */

/* MHD's own timeout is an idle one: a client sending a byte now and then
 * keeps its slot for ever, and METRICS_CONNS of them would lock every
 * scraper out. So each connection also has a deadline (METRICS_HEADERS_MS
 * to get its request in, METRICS_LIFETIME_MS in all), and beyond
 * METRICS_CONNS_UNANSWERED connections without a request the oldest one
 * makes room: a new client always gets a slot. A connection is ended with
 * shutdown(); MHD then sees its end and closes it (the notification below
 * frees the slot). */

static void conn_shut(struct conn *k)
{
	if (!k->shut) {
		(void)shutdown(k->fd, SHUT_RDWR);
		k->shut = true;
	}
}

static long long conn_deadline(const struct conn *k)
{
	return k->since_ms + (k->answered ? METRICS_LIFETIME_MS : METRICS_HEADERS_MS);
}

/* Beyond METRICS_CONNS_UNANSWERED waiting for their request, the oldest goes. */
static void make_room(struct metrics *m)
{
	struct conn *oldest = NULL;
	unsigned waiting = 0;

	for (size_t i = 0; i < METRICS_CONNS; i++) {
		struct conn *k = &m->conns[i];

		if (k->fd < 0 || k->answered || k->shut)
			continue;
		waiting++;
		if (!oldest || k->since_ms < oldest->since_ms)
			oldest = k;
	}
	if (waiting > METRICS_CONNS_UNANSWERED && oldest)
		conn_shut(oldest);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics *m = cls;
	const union MHD_ConnectionInfo *info;
	struct conn *k = *ctx;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (k)
			k->fd = -1;
		*ctx = NULL;
		return;
	}
	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (size_t i = 0; info && i < METRICS_CONNS; i++) {
		if (m->conns[i].fd < 0) {
			m->conns[i] = (struct conn){.fd = info->connect_fd, .since_ms = clk_mono_ms()};
			*ctx = &m->conns[i];
			make_room(m);
			return;
		}
	}
}

static void mark_answered(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	if (info && info->socket_context)
		((struct conn *)info->socket_context)->answered = true;
}

/* Ends the connections past their deadline; returns the ms until the next
 * deadline (at most max_ms). */
static int enforce_deadlines(struct metrics *m, int max_ms)
{
	long long now = clk_mono_ms();
	long long wait = max_ms;

	for (size_t i = 0; i < METRICS_CONNS; i++) {
		struct conn *k = &m->conns[i];

		if (k->fd < 0 || k->shut)
			continue;
		if (conn_deadline(k) <= now)
			conn_shut(k);
		else if (conn_deadline(k) - now < wait)
			wait = conn_deadline(k) - now;
	}
	return (int)wait;
}

/* Every request comes here once its headers are in: the answer is queued
 * at once, nothing of a body is read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_cls)
{
	struct metrics *m = cls;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req_cls;
	mark_answered(c);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(m, c);
	if (strcmp(url, "/healthz") == 0)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return serve_ready(m, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* "host:port" (IPv6 in brackets) of the socket's own address. */
static void name_bound(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			(void)inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			(void)inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* A non-blocking listening socket on a. Returns it, or -1 with errno. */
static int listen_on(const struct url_listen *a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;
	int fd, saved;

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)a->port);
		(void)inet_pton(AF_INET6, a->host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)a->port);
		(void)inet_pton(AF_INET, a->host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int metrics_start(const char *listen, const struct metrics_pages *pages, struct metrics **out,
		  char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof(*m));
	const union MHD_DaemonInfo *info;
	struct url_listen a;
	int fd = -1;

	*out = NULL;
	if (!m || !(m->listen = strdup(listen))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m->pages = *pages;
	for (size_t i = 0; i < METRICS_CONNS; i++)
		m->conns[i].fd = -1;
	if (url_listen_parse(listen, &a) != 0) {
		snprintf(err, errlen, "not a listen address: %.64s", listen);
		goto fail;
	}
	fd = listen_on(&a);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %.64s: %s", listen, strerror(errno));
		goto fail;
	}
	name_bound(fd, m->bound, sizeof(m->bound));
	m->d = MHD_start_daemon(
	    MHD_USE_EPOLL | (a.family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, on_request, m,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_CONNS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_REQUEST_MAX,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_END);
	info = m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		snprintf(err, errlen, "cannot listen on %.64s: libmicrohttpd refused to start",
			 listen);
		goto fail;
	}
	m->epoll_fd = info->epoll_fd;
	*out = m;
	return 0;
fail:
	if (m && m->d)
		MHD_stop_daemon(m->d); /* closes fd */
	else if (fd >= 0)
		close(fd);
	if (m)
		free(m->listen);
	free(m);
	return -1;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m->listen);
	free(m);
}

const char *metrics_listen(const struct metrics *m)
{
	return m->listen;
}

const char *metrics_bound(const struct metrics *m)
{
	return m->bound;
}

int metrics_wait_fd(struct metrics *m, int *max_ms)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!m)
		return -1;
	if (MHD_get_timeout(m->d, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)*max_ms)
		*max_ms = (int)t;
	*max_ms = enforce_deadlines(m, *max_ms);
	return m->epoll_fd;
}

void metrics_run(struct metrics *m)
{
	if (m) {
		(void)MHD_run(m->d);
		(void)enforce_deadlines(m, 0);
	}
}
