#define _GNU_SOURCE /* memmem, strcasestr, accept4 */
/* Unit tests for dispatch.c: the Retry-After value parser (pure), and the
 * pool of reused curl handles against a small HTTP server on loopback that
 * this test drives itself, in the same thread, between disp_wait calls. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hsbridge/dispatch.h"

/* 2026-01-01T00:00:00Z */
#define NOW 1767225600LL

static void retry_after_reads_seconds_or_a_date_else_nothing(void **state)
{
	static const struct {
		const char *value;
		long want;
	} cases[] = {
	    {" 120\r\n", 120},
	    {"0", 0},
	    {"\t7 \t", 7},
	    {"86400", 86400},
	    {"86401", 86400},			/* capped at a day */
	    {"99999999999999999999999", 86400}, /* past any integer: still a day */
	    {"Thu, 01 Jan 2026 00:00:30 GMT", 30},
	    {"Thursday, 01-Jan-26 00:01:00 GMT", 60},
	    {"Fri, 31 Dec 2099 23:59:59 GMT", 86400},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", -1}, /* already past */
	    {"soon", -1},			   /* neither: no Retry-After */
	    {"-5", -1},
	    {"5 seconds", -1},
	    {"1.5", -1},
	    {"", -1},
	    {" \r\n", -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = disp_retry_after_s(cases[i].value, strlen(cases[i].value), NOW);

		if (got != cases[i].want)
			fail_msg("\"%s\": got %ld, want %ld", cases[i].value, got, cases[i].want);
	}
	/* By length: what follows is no part of the value, a NUL in it spoils it. */
	assert_int_equal(disp_retry_after_s("12345", 2, NOW), 12);
	assert_int_equal(disp_retry_after_s("Thu, 01 Jan 2026 00:00:30 GMT\0x", 31, NOW), -1);
}

/* ------------------------------------------------ a loopback HTTP server */

#define MAX_CONNS 8
#define REQ_MAX 8192

struct conn {
	int fd;
	char buf[REQ_MAX];
	size_t len;
	long long got_ms; /* when its request was complete; 0 while reading */
};

/* One canned answer per request, in order; an answer may wait (delay_ms)
 * or never come (silent). */
struct answer {
	const char *text;
	long delay_ms;
	bool silent;
};

struct server {
	int lfd;
	int port;
	struct conn conns[MAX_CONNS];
	unsigned accepted;
	char requests[4][REQ_MAX]; /* each request as read, head and body */
	unsigned n_requests;
	const struct answer *answers;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void server_start(struct server *sv, const struct answer *answers)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(sv, 0, sizeof(*sv));
	for (int i = 0; i < MAX_CONNS; i++)
		sv->conns[i].fd = -1;
	sv->answers = answers;
	sv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(sv->lfd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(sv->lfd, 16), 0);
	assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &alen), 0);
	sv->port = ntohs(a.sin_port);
}

static void server_stop(struct server *sv)
{
	for (int i = 0; i < MAX_CONNS; i++) {
		if (sv->conns[i].fd >= 0)
			close(sv->conns[i].fd);
	}
	close(sv->lfd);
}

/* Whether c holds a whole request: a head, and Content-Length bytes after. */
static bool request_complete(const struct conn *c)
{
	const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	const char *cl;
	size_t head;

	if (!end)
		return false;
	head = (size_t)(end - c->buf) + 4;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	if (!cl || cl > end)
		return true;
	return c->len >= head + strtoul(cl + 17, NULL, 10);
}

static void conn_read(struct server *sv, struct conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	if (n < 0 || c->got_ms)
		return;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (request_complete(c)) {
		c->got_ms = now_ms();
		assert_true(sv->n_requests < 4);
		memcpy(sv->requests[sv->n_requests++], c->buf, c->len + 1);
	}
}

/* Accepts, reads, and answers what is due: one step, never blocking. */
static void server_step(struct server *sv)
{
	int fd;

	while ((fd = accept4(sv->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		for (int i = 0; i < MAX_CONNS; i++) {
			if (sv->conns[i].fd < 0) {
				memset(&sv->conns[i], 0, sizeof(sv->conns[i]));
				sv->conns[i].fd = fd;
				fd = -1;
				break;
			}
		}
		assert_int_equal(fd, -1);
		sv->accepted++;
	}
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &sv->conns[i];
		const struct answer *a;

		if (c->fd < 0)
			continue;
		conn_read(sv, c);
		if (c->fd < 0 || !c->got_ms)
			continue;
		a = &sv->answers[sv->n_requests - 1];
		if (a->silent || now_ms() - c->got_ms < a->delay_ms)
			continue;
		assert_int_equal(write(c->fd, a->text, strlen(a->text)), (ssize_t)strlen(a->text));
		c->len = 0;
		c->got_ms = 0;
	}
}

struct outcome {
	bool done;
	struct disp_result res;
	char body[DISP_BODY_MAX + 1];
};

static void on_done(void *user, const struct disp_result *res, void *arg)
{
	struct outcome *o = user;

	(void)arg;
	o->done = true;
	o->res = *res;
	memcpy(o->body, res->body, res->body_len);
	o->body[res->body_len] = '\0';
	o->res.body = o->body;
}

static void run_until_done(struct disp *d, struct server *sv, struct outcome *o)
{
	long long deadline = now_ms() + 10000;

	while (!o->done) {
		assert_true(now_ms() < deadline);
		assert_int_equal(disp_wait(d, NULL, 0, 10), 0);
		server_step(sv);
		disp_collect(d, on_done, NULL);
	}
}

static int submit(struct disp *d, struct server *sv, const char *path, const char *const *hdrs,
		  const char *body, long timeout_ms, struct outcome *o)
{
	struct disp_request req;
	struct curl_slist *h = NULL;
	char url[64];

	for (; *hdrs; hdrs++)
		h = curl_slist_append(h, *hdrs);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sv->port, path);
	memset(o, 0, sizeof(*o));
	req.url = url; /* libcurl copies it */
	req.body = body;
	req.len = strlen(body);
	req.headers = h;
	req.free_headers = NULL; /* curl_slist_free_all */
	req.timeout_ms = timeout_ms;
	req.egress = NULL;
	req.user = o;
	return disp_submit(d, &req);
}

static const char *header_of(const char *request, const char *name)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	return strcasestr(request, pat);
}

/* Two requests on one handle, one after the other: the second carries
 * nothing of the first. Not its URL, headers, body or length, nor the
 * first's answer (status, Retry-After, body); and it goes out on the
 * connection the first one opened. */
static void reused_handle_carries_nothing_of_the_previous_request(void **state)
{
	static const struct answer answers[] = {
	    {"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 5\r\n\r\nfirst", 0, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false},
	};
	static const char *const hdrs_a[] = {"X-One: 1", "X-Only-A: yes", "Expect:", NULL};
	static const char *const hdrs_b[] = {"X-Two: 2", NULL};
	char body_a[600];
	struct server sv;
	struct outcome o;
	struct disp *d = disp_new();
	const char *b;

	(void)state;
	memset(body_a, 'a', sizeof(body_a) - 1);
	body_a[sizeof(body_a) - 1] = '\0';
	server_start(&sv, answers);
	assert_non_null(d);
	disp_set_idle_max(d, 1);
	assert_int_equal(submit(d, &sv, "/a?x=1", hdrs_a, body_a, 5000, &o), 0);
	run_until_done(d, &sv, &o);
	assert_int_equal(o.res.status, 503);
	assert_int_equal(o.res.retry_after_ms, 7000);
	assert_string_equal(o.body, "first");
	assert_int_equal(disp_idle(d), 1);
	assert_non_null(header_of(sv.requests[0], "X-Only-A"));
	assert_non_null(strcasestr(sv.requests[0], "\r\nContent-Length: 599\r\n"));

	assert_int_equal(submit(d, &sv, "/b", hdrs_b, "bb", 5000, &o), 0);
	assert_int_equal(disp_idle(d), 0); /* the first request's handle */
	run_until_done(d, &sv, &o);
	assert_int_equal(o.res.status, 200);
	assert_int_equal(o.res.retry_after_ms, -1);
	assert_int_equal(o.res.body_len, 0);
	assert_string_equal(o.res.error, "");
	assert_int_equal(o.res.requests, 1);
	assert_int_equal(sv.accepted, 1); /* the connection was reused */

	b = sv.requests[1];
	assert_int_equal(strncmp(b, "POST /b HTTP/1.1\r\n", 18), 0);
	assert_non_null(header_of(b, "X-Two"));
	assert_null(header_of(b, "X-One"));
	assert_null(header_of(b, "X-Only-A"));
	assert_non_null(strcasestr(b, "\r\nContent-Length: 2\r\n"));
	assert_string_equal(strstr(b, "\r\n\r\n") + 4, "bb");
	disp_free(d);
	server_stop(&sv);
}

/* A request's timeout is its own: a short one that expired on a handle does
 * not cut the next request, which waits longer for its answer. */
static void reused_handle_takes_the_new_requests_timeout(void **state)
{
	static const struct answer answers[] = {
	    {"", 0, true},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 400, false},
	};
	static const char *const hdrs[] = {"X-Any: 1", NULL};
	struct server sv;
	struct outcome o;
	struct disp *d = disp_new();

	(void)state;
	server_start(&sv, answers);
	assert_non_null(d);
	disp_set_idle_max(d, 1);
	assert_int_equal(submit(d, &sv, "/slow", hdrs, "x", 150, &o), 0);
	run_until_done(d, &sv, &o);
	assert_int_equal(o.res.status, 0);
	assert_true(o.res.error[0] != '\0');

	assert_int_equal(submit(d, &sv, "/patient", hdrs, "y", 5000, &o), 0);
	assert_int_equal(disp_idle(d), 0);
	run_until_done(d, &sv, &o);
	assert_int_equal(o.res.status, 200);
	assert_string_equal(o.body, "ok");
	assert_string_equal(o.res.error, "");
	assert_true(o.res.ms >= 400);
	disp_free(d);
	server_stop(&sv);
}

/* At most idle_max handles wait; lowering it frees the ones past it. */
static void pool_keeps_at_most_idle_max_handles(void **state)
{
	static const struct answer answers[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false},
	};
	static const char *const hdrs[] = {"X-Any: 1", NULL};
	struct server sv;
	struct outcome o[3];
	struct disp *d = disp_new();

	(void)state;
	server_start(&sv, answers);
	assert_non_null(d);
	disp_set_idle_max(d, 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(submit(d, &sv, "/n", hdrs, "z", 5000, &o[i]), 0);
	assert_int_equal(disp_running(d), 3);
	for (int i = 0; i < 3; i++)
		run_until_done(d, &sv, &o[i]);
	assert_int_equal(disp_running(d), 0);
	assert_int_equal(disp_idle(d), 2);
	disp_set_idle_max(d, 0);
	assert_int_equal(disp_idle(d), 0);
	disp_free(d);
	server_stop(&sv);
}

/* Through a proxy the guard judges the endpoint's literal host before the
 * request: an explicit proxy and the environment's alike (issue 12 attack
 * review: with proxy = "env" a proxy on a public address carried requests
 * to 127.0.0.1), a trailing dot not hiding it. */
static void url_host_is_judged_through_any_proxy(void **state)
{
	static const struct {
		const char *proxy;
		const char *url;
		bool ok;
	} cases[] = {
	    {DISP_PROXY_ENV, "http://127.0.0.1:8900/x", false},
	    {DISP_PROXY_ENV, "http://169.254.169.254/latest", false},
	    {DISP_PROXY_ENV, "http://localhost/x", false},
	    {DISP_PROXY_ENV, "http://[::1]/x", false},
	    {DISP_PROXY_ENV, "https://hooks.example.com/x", true},
	    {"http://proxy.example:3128", "http://127.0.0.1./x", false},
	    {"http://proxy.example:3128", "http://10.1.2.3/x", false},
	    {"http://proxy.example:3128", "http://8.8.8.8/x", true},
	    {NULL, "http://127.0.0.1/x", true}, /* no proxy: the connection is judged */
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct disp_egress e = {.proxy = cases[i].proxy, .guard = true};
		bool ok = disp_url_allowed(&e, cases[i].url, why, sizeof(why));

		if (ok != cases[i].ok)
			fail_msg("case %zu (%s via %s): %s", i, cases[i].url,
				 cases[i].proxy ? cases[i].proxy : "no proxy", ok ? "allowed" : why);
		if (!ok)
			assert_non_null(strstr(why, "endpoint address not allowed"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(retry_after_reads_seconds_or_a_date_else_nothing),
	    cmocka_unit_test(reused_handle_carries_nothing_of_the_previous_request),
	    cmocka_unit_test(reused_handle_takes_the_new_requests_timeout),
	    cmocka_unit_test(pool_keeps_at_most_idle_max_handles),
	    cmocka_unit_test(url_host_is_judged_through_any_proxy),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
