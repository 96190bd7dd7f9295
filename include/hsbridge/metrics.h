/* metrics: the HTTP listener of metrics.listen (libmicrohttpd), served from
 * the bridge's one loop: no thread of its own. MHD runs in its external
 * epoll mode: metrics_wait_fd hands the loop one descriptor to wait on
 * (with curl_multi_poll's extra fds) and a bound on the wait, and
 * metrics_run serves whatever is ready without blocking.
 *
 *   GET /metrics   200, the Prometheus text exposition (pages->render)
 *   GET /healthz   200 "ok": the loop turns (a stalled loop answers nothing)
 *   GET /readyz    200 "ready", or 503 and the reason (pages->not_ready)
 *   other paths    404;  other methods  405 (HEAD is a GET without body)
 *
 * A hostile client cannot stall the loop: sockets are non-blocking, a
 * connection idle for METRICS_IDLE_S is closed, at most METRICS_CONNS are
 * open (METRICS_CONNS_PER_IP from one address), and a request's line and
 * headers must fit in METRICS_REQUEST_MAX bytes. Nor can it keep a scraper
 * out: see METRICS_HEADERS_MS. */
#ifndef HSBRIDGE_METRICS_H
#define HSBRIDGE_METRICS_H

#include <stddef.h>

#define METRICS_CONNS 64
#define METRICS_CONNS_PER_IP 32
#define METRICS_IDLE_S 10
#define METRICS_REQUEST_MAX 16384
/* A connection's request must be in within METRICS_HEADERS_MS, and the
 * whole exchange done within METRICS_LIFETIME_MS; beyond
 * METRICS_CONNS_UNANSWERED connections without a request, the oldest is
 * closed for the newcomer (metrics.c: slow clients cannot lock a scraper
 * out). */
#define METRICS_HEADERS_MS 5000
#define METRICS_LIFETIME_MS 30000
#define METRICS_CONNS_UNANSWERED 32

struct metrics;

/* What a request asks the bridge; called from inside metrics_run. */
struct metrics_pages {
	/* The exposition: 0 with *body (malloc'd; the listener frees it) and
	 * *len, or -1 (answered 500). */
	int (*render)(void *arg, char **body, size_t *len);
	/* NULL while ready, else a short reason ("disconnected", …), static. */
	const char *(*not_ready)(void *arg);
	void *arg;
};

/* Listens on listen ("host:port", url_listen_parse; port 0: a free one).
 * pages is copied. Returns 0 with *out (metrics_stop frees it), or -1 with
 * the reason in err ("cannot listen on 127.0.0.1:9464: Address already in
 * use"). */
int metrics_start(const char *listen, const struct metrics_pages *pages, struct metrics **out,
		  char *err, size_t errlen) __attribute__((warn_unused_result));
/* Closes the listener and every connection. NULL is fine. */
void metrics_stop(struct metrics *m);

/* The listen string it was started with (borrowed, lives as long as m). */
const char *metrics_listen(const struct metrics *m);
/* The address really bound ("127.0.0.1:40123", "[::1]:9464"). */
const char *metrics_bound(const struct metrics *m);

/* The descriptor to wait on for reading (-1 when m is NULL); lowers
 * *max_ms to when MHD must run anyway (a timeout, data already read). */
int metrics_wait_fd(struct metrics *m, int *max_ms);
/* Serves what is ready; never blocks. NULL is fine. */
void metrics_run(struct metrics *m);

#endif
