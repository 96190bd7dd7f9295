/* Fuzz harness: Retry-After, from the response bytes to the retry decision.
 * dispatch.c reads the Retry-After line of the final response (on_header,
 * disp_retry_after_s: seconds or an HTTP-date through curl_getdate, capped
 * at a day) and pol_decide picks the retry delay. This harness drives exactly that
 * path through the public dispatch API: each input is answered by a real
 * loopback HTTP server in this process, to a real disp_submit POST.
 *
 * Input layout:
 *   byte 0   bits 0-2: the status (statuses[]); bit 3: an informational
 *            "103" response with "Retry-After: 7" comes first; bits 4-6:
 *            the attempt number handed to pol_decide (+1)
 *   rest     raw header lines, sent after the status line and before
 *            "Content-Length: 0" and the blank line
 *
 * The header bytes also go straight to disp_retry_after_s, the value parser.
 *
 * Checked: retry_after_ms is -1 or whole seconds within a day; -1 when the
 * response has no Retry-After or no response arrived; for one Retry-After
 * line in the final response, min(N, 86400) s for digits N and -1 for a
 * value that is no date either; and pol_decide's delay is in the schedule
 * and honours the Retry-After. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "hsbridge/dispatch.h"
#include "hsbridge/policy.h"

#define MAX_RESPONSE 65536
#define HANG_MS 5000
#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */

static const int statuses[8] = {429, 503, 200, 500, 302, 410, 204, 429};
static const long delays[] = {1000, 5000, 30000, 300000, 1800000};
#define N_DELAYS (sizeof(delays) / sizeof(delays[0]))

struct run {
	bool done;
	struct disp_result res;
};

static int listen_fd = -1;
static char url[64];

static void setup(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		FUZZ_FAIL("curl_global_init");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (listen_fd < 0 || fcntl(listen_fd, F_SETFL, O_NONBLOCK) != 0 ||
	    bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listen_fd, 16) != 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0)
		FUZZ_FAIL("cannot listen on loopback: %s", strerror(errno));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", (unsigned)ntohs(a.sin_port));
}

static void on_done(void *user, const struct disp_result *res, void *arg)
{
	struct run *r = user;

	(void)arg;
	FUZZ_CHECK(res != NULL);
	FUZZ_CHECK(res->body_len <= DISP_BODY_MAX);
	r->res = *res;
	r->res.body = NULL;
	r->done = true;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serves one connection: reads the request up to its 2-byte body, answers
 * with resp, then half-closes so the client sees the end. */
static void serve(int *conn, char *req, size_t *req_len, bool *sent, const char *resp, size_t n)
{
	ssize_t got;

	if (*conn < 0) {
		*conn = accept(listen_fd, NULL, NULL);
		if (*conn >= 0)
			fcntl(*conn, F_SETFL, O_NONBLOCK);
		return;
	}
	/* The request is a few hundred bytes; past the buffer, keep the end. */
	while ((got = read(*conn, req + *req_len, 4095 - *req_len)) > 0) {
		*req_len += (size_t)got;
		if (*req_len == 4095)
			*req_len = 0;
	}
	req[*req_len] = '\0';
	if (!*sent && strstr(req, "\r\n\r\n") != NULL && strlen(strstr(req, "\r\n\r\n")) >= 4 + 2) {
		fcntl(*conn, F_SETFL, 0);
		for (size_t off = 0; off < n;) {
			got = write(*conn, resp + off, n - off);
			if (got <= 0)
				break;
			off += (size_t)got;
		}
		shutdown(*conn, SHUT_WR);
		fcntl(*conn, F_SETFL, O_NONBLOCK);
		*sent = true;
	}
}

static void exchange(const char *resp, size_t n, struct run *r)
{
	struct disp *d = disp_new();
	struct disp_request req = {
	    .url = url, .body = "{}", .len = 2, .timeout_ms = 3000, .user = r};
	char buf[4096];
	size_t buf_len = 0;
	bool sent = false;
	int conn = -1;
	long long deadline = now_ms() + HANG_MS;

	if (d == NULL || disp_submit(d, &req) != 0)
		FUZZ_FAIL("cannot start the POST");
	while (!r->done) {
		struct curl_waitfd w = {.fd = conn >= 0 ? conn : listen_fd,
					.events = CURL_WAIT_POLLIN};

		if (now_ms() > deadline)
			FUZZ_FAIL("no result after %d ms", HANG_MS);
		disp_collect(d, on_done, NULL);
		if (!r->done)
			serve(&conn, buf, &buf_len, &sent, resp, n);
		if (!r->done)
			disp_wait(d, &w, 1, 10);
	}
	if (conn >= 0)
		close(conn);
	disp_free(d);
}

/* What retry_after_ms must be for the header block h of the final response
 * (up to the first line that starts with CR or LF, as libcurl reads it), when that is easy to tell:
 * -1 without a Retry-After line or with a value that is neither digits nor a date, the capped
 * digits, or UNKNOWN (a date, several lines, anything odd). */
#define UNKNOWN (-2L)
static bool plain_line(const char *line)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t name = strspn(line, tchar);
	size_t len = strcspn(line, "\n");

	if (name == 0 || line[name] != ':')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\r' && i + 1 != len)
			return false;
	}
	return true;
}

static long model_ms(const char *h)
{
	const char *line, *v = NULL, *v_end = NULL;
	char date[64];
	long secs = 0;

	for (line = h; *line != '\0' && line[0] != '\n' && line[0] != '\r';
	     line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : "") {
		/* Only plain "token: value" lines: libcurl reads others (no
		 * colon, an empty name, a stray CR, a folded line) its own
		 * way, often as the end of the headers. */
		if (!plain_line(line))
			return UNKNOWN;
		if (strncasecmp(line, "retry-after:", 12) != 0)
			continue;
		if (v != NULL)
			return UNKNOWN;
		v = line + 12 + strspn(line + 12, " \t");
		v_end = strchr(v, '\n') != NULL ? strchr(v, '\n') : v + strlen(v);
		while (v_end > v && strchr(" \t\r", v_end[-1]) != NULL)
			v_end--;
	}
	if (v == NULL)
		return -1;
	if (v_end > v && strspn(v, "0123456789") == (size_t)(v_end - v)) {
		for (; v < v_end && secs < 86400; v++)
			secs = secs * 10 + (*v - '0');
		return (secs < 86400 ? secs : 86400) * 1000;
	}
	if (v_end - v >= (long)sizeof(date))
		return UNKNOWN;
	memcpy(date, v, (size_t)(v_end - v));
	date[v_end - v] = '\0';
	return curl_getdate(date, NULL) == -1 ? -1 : UNKNOWN;
}

static bool mentions_retry_after(const char *s, size_t n)
{
	for (size_t i = 0; i + 11 <= n; i++) {
		if (strncasecmp(s + i, "retry-after", 11) == 0)
			return true;
	}
	return false;
}

static void check_decision(const struct run *r, unsigned attempt)
{
	struct pol_decision dec =
	    pol_decide(r->res.status, r->res.retry_after_ms, attempt, delays, N_DELAYS);
	long ra = r->res.retry_after_ms;

	if (dec.action != POL_RETRY)
		return;
	FUZZ_CHECK(dec.delay_index < N_DELAYS);
	if ((r->res.status == 429 || r->res.status == 503) && ra >= 0) {
		/* The shortest delay that waits long enough, else the longest. */
		for (size_t i = 0; i < N_DELAYS; i++) {
			if (delays[i] >= ra)
				FUZZ_CHECK(delays[dec.delay_index] >= ra &&
					   delays[dec.delay_index] <= delays[i]);
		}
		if (ra > delays[N_DELAYS - 1])
			FUZZ_CHECK(dec.delay_index == N_DELAYS - 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char resp[MAX_RESPONSE];
	char *headers;
	struct run r = {0};
	const char *final;
	int status, len;
	long want, s;

	if (size == 0 || size > MAX_RESPONSE / 2)
		return 0;
	if (listen_fd < 0)
		setup();
	status = statuses[data[0] & 7];
	headers = strndup((const char *)data + 1, size - 1);
	if (headers == NULL)
		abort();
	len = snprintf(resp, sizeof(resp), "%sHTTP/1.1 %d X\r\n%.*sContent-Length: 0\r\n\r\n",
		       data[0] & 8 ? "HTTP/1.1 103 Early Hints\r\nRetry-After: 7\r\n\r\n" : "",
		       status, (int)(size - 1), (const char *)data + 1);
	final = strstr(resp, " X\r\n") + 4;
	exchange(resp, (size_t)len, &r);

	FUZZ_CHECK(r.res.retry_after_ms == -1 ||
		   (r.res.retry_after_ms >= 0 && r.res.retry_after_ms <= 86400000L &&
		    r.res.retry_after_ms % 1000 == 0));
	if (r.res.status == 0 || !mentions_retry_after((const char *)data + 1, size - 1))
		FUZZ_CHECK(r.res.retry_after_ms == -1);
	/* The model reads the final response as sent, up to its blank line; a
	 * transfer that failed (a bad Content-Length, say) may have stopped
	 * before the Retry-After line. */
	want = strlen(headers) == size - 1 ? model_ms(final) : UNKNOWN;
	if (r.res.status == status && r.res.error[0] == '\0' && want != UNKNOWN &&
	    r.res.retry_after_ms != want)
		FUZZ_FAIL("retry_after_ms %ld, want %ld", r.res.retry_after_ms, want);
	s = disp_retry_after_s((const char *)data + 1, size - 1, NOW);
	FUZZ_CHECK(s >= -1 && s <= DISP_RETRY_AFTER_MAX_S);
	check_decision(&r, ((data[0] >> 4) & 7) + 1);
	free(headers);
	return 0;
}
