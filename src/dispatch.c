/* dispatch: one curl multi handle for every webhook POST. Each transfer
 * carries its state through CURLOPT_PRIVATE. A finished transfer's easy
 * handle is reset (curl_easy_reset: every option back to its default) and
 * kept for the next one, up to idle_max of them: curl_easy_init and
 * curl_easy_cleanup per request cost more than a reset. Connections live in
 * the multi handle's cache either way. */
#include "hsbridge/dispatch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "hsbridge/clock.h"
#include "hsbridge/netguard.h"
#include "hsbridge/redact.h"

struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	void (*free_headers)(struct curl_slist *headers);
	void *user;
	long long start_ms;
	unsigned requests; /* how often the request went out */
	bool has_retry_after;
	char errbuf[CURL_ERROR_SIZE];
	char body[DISP_BODY_MAX];
	size_t body_len;
	long retry_after_s; /* with has_retry_after: the value, parsed */
	bool in_headers;    /* past a status line, before the blank line that ends it */
	bool informational; /* the response being read is a 1xx: another one follows */
	bool headers_done;  /* the final response's headers ended: trailers are not read */
	bool guard;	    /* refuse connections to what is not a public address */
	bool proxied;	    /* connections go to a proxy: the guard leaves them be */
	char refused[96];   /* the guard refused an address: which, and why; else "" */
	struct xfer *prev, *next; /* running; idle ones chain through next */
};

struct disp {
	CURLM *multi;
	struct xfer *head; /* running transfers, for cancellation */
	size_t running;
	struct xfer *idle; /* reset handles waiting for a request */
	size_t n_idle;
	size_t idle_max;
};

struct disp *disp_new(void)
{
	struct disp *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->multi = curl_multi_init();
	if (!d->multi) {
		free(d);
		return NULL;
	}
	return d;
}

static void xfer_unlink(struct disp *d, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		d->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	d->running--;
}

static void free_headers(void (*fn)(struct curl_slist *), struct curl_slist *h)
{
	if (fn)
		fn(h);
	else
		curl_slist_free_all(h);
}

static void xfer_destroy(struct xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	free(x);
}

/* The transfer is over (finished, cancelled or never started): its handle
 * leaves the multi and, reset, waits for the next request while the pool
 * has room. A reset handle keeps no option, URL, header list or callback
 * of the request it carried. */
static void xfer_release(struct disp *d, struct xfer *x, bool added)
{
	if (added)
		curl_multi_remove_handle(d->multi, x->easy);
	free_headers(x->free_headers, x->headers);
	x->headers = NULL;
	x->user = NULL;
	if (!x->easy || d->n_idle >= d->idle_max) {
		xfer_destroy(x);
		return;
	}
	curl_easy_reset(x->easy);
	x->prev = NULL;
	x->next = d->idle;
	d->idle = x;
	d->n_idle++;
}

/* A handle for a new request: an idle one, else a new one. Its request
 * state starts empty either way. */
static struct xfer *xfer_take(struct disp *d)
{
	struct xfer *x = d->idle;

	if (x) {
		d->idle = x->next;
		d->n_idle--;
	} else {
		x = calloc(1, sizeof(*x));
		if (!x)
			return NULL;
		x->easy = curl_easy_init();
	}
	x->prev = x->next = NULL;
	x->headers = NULL;
	x->free_headers = NULL;
	x->user = NULL;
	x->requests = 0;
	x->has_retry_after = false;
	x->retry_after_s = 0;
	x->in_headers = false;
	x->informational = false;
	x->headers_done = false;
	x->guard = false;
	x->proxied = false;
	x->refused[0] = '\0';
	x->errbuf[0] = '\0';
	x->body_len = 0;
	return x;
}

void disp_set_idle_max(struct disp *d, size_t n)
{
	d->idle_max = n;
	/* Keep as many idle connections as there can be transfers: libcurl's
	 * default (4 x the handles added at the moment) shrinks whenever few
	 * transfers run and closes connections that the next burst opens again
	 * (about one new connection per 20 requests at 128 in flight). */
	if (n > 0)
		curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)n);
	while (d->n_idle > n) {
		struct xfer *x = d->idle;

		d->idle = x->next;
		d->n_idle--;
		xfer_destroy(x);
	}
}

size_t disp_idle(const struct disp *d)
{
	return d->n_idle;
}

void disp_cancel_all(struct disp *d, disp_done_fn fn, void *arg)
{
	while (d->head) {
		struct xfer *x = d->head;
		void *user = x->user;

		xfer_unlink(d, x);
		xfer_release(d, x, true);
		if (fn)
			fn(user, NULL, arg);
	}
}

void disp_free(struct disp *d)
{
	if (!d)
		return;
	disp_cancel_all(d, NULL, NULL);
	disp_set_idle_max(d, 0);
	curl_multi_cleanup(d->multi);
	free(d);
}

size_t disp_running(const struct disp *d)
{
	return d->running;
}

/* Keeps the start of the response for the log and drops the rest: a receiver
 * that answers with megabytes must not cost us memory. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	size_t room = sizeof(x->body) - x->body_len;
	size_t take = n < room ? n : room;

	memcpy(x->body + x->body_len, data, take);
	x->body_len += take;
	return n;
}

long disp_retry_after_s(const char *value, size_t len, long long now)
{
	char date[64];
	long secs = 0;
	size_t digits = 0;
	time_t when;

	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
			   value[len - 1] == '\r' || value[len - 1] == '\n'))
		len--;
	for (; digits < len && value[digits] >= '0' && value[digits] <= '9'; digits++) {
		if (secs < DISP_RETRY_AFTER_MAX_S)
			secs = secs * 10 + (value[digits] - '0');
	}
	if (digits > 0 && digits == len)
		return secs < DISP_RETRY_AFTER_MAX_S ? secs : DISP_RETRY_AFTER_MAX_S;
	if (digits > 0 || len == 0 || len >= sizeof(date) || memchr(value, '\0', len) != NULL)
		return -1;
	memcpy(date, value, len);
	date[len] = '\0';
	when = curl_getdate(date, NULL);
	/* A date already past asks for no particular wait: use the schedule. */
	if (when == -1 || (long long)when < now)
		return -1;
	return (long long)when - now < DISP_RETRY_AFTER_MAX_S ? (long)((long long)when - now)
							      : DISP_RETRY_AFTER_MAX_S;
}

/* Reads Retry-After ourselves: libcurl's CURLINFO_RETRY_AFTER reads 0 for
 * no header, for "0" and for a value it cannot parse alike. Each response
 * (a 1xx, then the final one) starts over at its status line: the first line
 * after a blank one, not any header that happens to begin with "HTTP/". Like
 * libcurl, take any line that starts with CR or LF for the blank one. Only the
 * final response's own header block counts: libcurl also hands over the
 * trailer lines of a chunked body, which come after it. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (x->headers_done)
		return n;
	if (!x->in_headers && n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);

		x->has_retry_after = false;
		x->in_headers = true;
		x->informational = sp != NULL && (size_t)(sp - data) + 1 < n && sp[1] == '1';
	} else if (n >= 1 && (data[0] == '\r' || data[0] == '\n')) {
		x->in_headers = false;
		x->headers_done = !x->informational;
	} else if (x->in_headers && n >= sizeof(name) - 1 &&
		   strncasecmp(data, name, sizeof(name) - 1) == 0) {
		x->retry_after_s = disp_retry_after_s(data + sizeof(name) - 1,
						      n - (sizeof(name) - 1), clk_wall_s());
		x->has_retry_after = x->retry_after_s >= 0;
	}
	return n;
}

/* Called each time libcurl is about to send the request, on a new or a
 * reused connection. When a reused connection closes before any answer,
 * libcurl sends the same POST again on a new one, within this one transfer:
 * the endpoint may then have seen it twice, so count every send. */
static int on_request(void *userp, char *primary_ip, char *local_ip, int primary_port,
		      int local_port)
{
	struct xfer *x = userp;
	enum ng_class c;

	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	/* A connection another transfer opened (the cache is the multi
	 * handle's, shared by every subscription) never went through this
	 * transfer's open-socket check: judge the address it is connected to. */
	if (x->guard && !x->proxied) {
		c = ng_classify_text(primary_ip);
		if (c != NG_PUBLIC) {
			snprintf(x->refused, sizeof(x->refused), "%.46s is %s", primary_ip,
				 ng_class_name(c));
			return CURL_PREREQFUNC_ABORT;
		}
	}
	x->requests++;
	return CURL_PREREQFUNC_OK;
}

/* Opens each connection's socket, once libcurl has the address: the guard
 * judges the address really connected to, whatever DNS said earlier. */
static curl_socket_t on_open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = userp;
	enum ng_class c;
	char ip[64] = "?";

	if (x->guard && !x->proxied && purpose == CURLSOCKTYPE_IPCXN) {
		c = ng_classify_sockaddr(&a->addr, a->addrlen);
		if (c != NG_PUBLIC) {
			ng_format_sockaddr(&a->addr, a->addrlen, ip, sizeof(ip));
			snprintf(x->refused, sizeof(x->refused), "%.46s is %s", ip,
				 ng_class_name(c));
			return CURL_SOCKET_BAD;
		}
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Where a request leaves through: client certificate, CA, proxy, guard.
 * Without a proxy, CURLOPT_PROXY "" turns off libcurl's reading of
 * http_proxy, https_proxy, all_proxy and no_proxy (and its getenv calls on
 * every request); with one, CURLOPT_NOPROXY "" keeps no_proxy out too. */
static void xfer_setopts_egress(struct xfer *x, const struct disp_egress *e)
{
	static const struct disp_egress none;

	if (!e)
		e = &none;
	if (!e->proxy) {
		curl_easy_setopt(x->easy, CURLOPT_PROXY, "");
	} else if (strcmp(e->proxy, DISP_PROXY_ENV) != 0) {
		curl_easy_setopt(x->easy, CURLOPT_PROXY, e->proxy);
		curl_easy_setopt(x->easy, CURLOPT_NOPROXY, "");
	}
	/* "env": a proxy only if the environment names one for this URL, which
	 * the bridge does not know: the guard judges every connection, the
	 * proxy's too (failing closed: a direct one is never let through). */
	x->proxied = e->proxy != NULL && strcmp(e->proxy, DISP_PROXY_ENV) != 0;
	x->guard = e->guard;
	if (e->ca_file)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, e->ca_file);
	if (e->client_cert && e->client_key) {
		curl_easy_setopt(x->easy, CURLOPT_SSLCERT, e->client_cert);
		curl_easy_setopt(x->easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(x->easy, CURLOPT_SSLKEY, e->client_key);
		curl_easy_setopt(x->easy, CURLOPT_SSLKEYTYPE, "PEM");
		if (e->key_password)
			curl_easy_setopt(x->easy, CURLOPT_KEYPASSWD, e->key_password);
	}
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA, x);
}

bool disp_url_allowed(const struct disp_egress *e, const char *url, char *why, size_t len)
{
	CURLU *h;
	char *host = NULL;
	char text[64];
	size_t n;
	enum ng_class c = NG_PUBLIC;

	if (len)
		why[0] = '\0';
	/* proxy = "env" too: the environment's proxy may be on a public
	 * address that the connection check lets through. */
	if (!e || !e->guard || !e->proxy)
		return true;
	h = curl_url();
	if (h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		n = strlen(host);
		/* [::1] -> ::1 */
		if (n >= 2 && host[0] == '[' && n - 2 < sizeof(text)) {
			memcpy(text, host + 1, n - 2);
			text[n - 2] = '\0';
		} else {
			snprintf(text, sizeof(text), "%s", host);
		}
		/* "127.0.0.1." is 127.0.0.1 to many resolvers */
		n = strlen(text);
		if (n > 1 && text[n - 1] == '.')
			text[n - 1] = '\0';
		c = ng_classify_text(text);
		if (c == NG_UNKNOWN)
			c = ng_is_localhost_name(text) ? NG_LOOPBACK : NG_PUBLIC;
		if (c != NG_PUBLIC)
			snprintf(why, len,
				 "endpoint address not allowed: %.46s is %s "
				 "(allow_private_addresses is false)",
				 text, ng_class_name(c));
	}
	curl_free(host);
	curl_url_cleanup(h);
	return c == NG_PUBLIC;
}

/* Every option a request needs, set on every request: a reused handle was
 * reset, so nothing is inherited, and nothing is left to a default that a
 * previous request changed. */
static void xfer_setopts(struct xfer *x, const struct disp_request *req)
{
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, req->timeout_ms);
	/* A redirect is a failed delivery, never a second POST elsewhere. */
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	/* A reset keeps a handle's TLS session cache: a new connection could
	 * resume a session of an earlier request, and the endpoint's current
	 * certificate would go unchecked. As with a new handle per request,
	 * every new connection makes a full, verified handshake. */
	curl_easy_setopt(x->easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PREREQFUNCTION, on_request);
	curl_easy_setopt(x->easy, CURLOPT_PREREQDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	xfer_setopts_egress(x, req->egress);
}

int disp_submit(struct disp *d, const struct disp_request *req)
{
	struct xfer *x = xfer_take(d);

	if (!x) {
		free_headers(req->free_headers, req->headers);
		return -1;
	}
	x->headers = req->headers;
	x->free_headers = req->free_headers;
	x->user = req->user;
	if (!x->easy) {
		xfer_release(d, x, false);
		return -1;
	}
	xfer_setopts(x, req);
	if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK) {
		xfer_release(d, x, false);
		return -1;
	}
	x->start_ms = clk_mono_ms();
	x->next = d->head;
	if (d->head)
		d->head->prev = x;
	d->head = x;
	d->running++;
	return 0;
}

int disp_wait(struct disp *d, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms)
{
	int numfds = 0;

	return curl_multi_poll(d->multi, extra, n_extra, timeout_ms, &numfds) == CURLM_OK ? 0 : -1;
}

static void finish(struct disp *d, CURL *easy, CURLcode code, disp_done_fn fn, void *arg)
{
	struct xfer *x = NULL;
	struct disp_result res;
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	memset(&res, 0, sizeof(res));
	res.retry_after_ms = -1;
	res.ms = clk_mono_ms() - x->start_ms;
	res.requests = x->requests;
	/* A final status line that arrived counts even when the transfer then
	 * failed (a body cut short, a timeout while it streamed): the endpoint
	 * answered, and a 2xx means it took the event. A 1xx is no answer. */
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status <= 999) {
		res.status = (int)status;
		if (x->has_retry_after)
			res.retry_after_ms = x->retry_after_s * 1000;
	}
	if (code != CURLE_OK && res.status == 0 && x->refused[0]) {
		res.address_refused = true;
		snprintf(res.error, sizeof(res.error),
			 "endpoint address not allowed: %s (allow_private_addresses is false)",
			 x->refused);
	} else if (code != CURLE_OK)
		/* curl's detail may repeat parts of the URL: no credentials. */
		redact_urls_in(x->errbuf[0] ? x->errbuf : curl_easy_strerror(code), res.error,
			       sizeof(res.error));
	res.body = x->body;
	res.body_len = x->body_len;
	xfer_unlink(d, x);
	fn(x->user, &res, arg);
	xfer_release(d, x, true);
}

void disp_collect(struct disp *d, disp_done_fn fn, void *arg)
{
	int still = 0;
	int left = 0;
	CURLMsg *msg;

	curl_multi_perform(d->multi, &still);
	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE)
			finish(d, msg->easy_handle, msg->data.result, fn, arg);
	}
}
