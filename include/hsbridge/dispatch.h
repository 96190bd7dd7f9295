/* dispatch: concurrent HTTP POSTs over one libcurl multi handle, which keeps
 * connections alive and reuses them across transfers. */
#ifndef HSBRIDGE_DISPATCH_H
#define HSBRIDGE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#define DISP_BODY_MAX 4096

struct disp;

/* How a request leaves: all borrowed, NULL fields (or no struct) meaning
 * the defaults: no client certificate, the system's CAs, no proxy (the
 * environment's http_proxy and the like are ignored), no address guard. */
struct disp_egress {
	const char *proxy;	  /* a proxy URL; DISP_PROXY_ENV: the environment's */
	const char *ca_file;	  /* PEM bundle that verifies the endpoint */
	const char *client_cert;  /* PEM, with client_key */
	const char *client_key;	  /* PEM */
	const char *key_password; /* of client_key */
	/* Refuse what is not a public address (netguard.h): checked on the
	 * address each connection is opened to (the open-socket callback,
	 * after DNS: a name that re-resolves cannot get around it) and on the
	 * one a reused connection is connected to, before each request. With
	 * a proxy, the connection goes to the proxy, which the operator chose:
	 * only an endpoint host that is an IP address or localhost is judged,
	 * and the proxy must keep the rest out (README). With DISP_PROXY_ENV
	 * every connection is judged, the proxy's included. */
	bool guard;
};
#define DISP_PROXY_ENV "env"

struct disp_request {
	const char *url;
	const char *body; /* borrowed: must stay valid until the transfer ends */
	size_t len;
	struct curl_slist *headers; /* owned by dispatch from disp_submit on, even on error */
	/* How dispatch frees headers; NULL: curl_slist_free_all. */
	void (*free_headers)(struct curl_slist *headers);
	long timeout_ms;
	const struct disp_egress *egress; /* NULL: the defaults */
	void *user; /* handed back with the result */
};

struct disp_result {
	/* HTTP status of the final response, 0 when none arrived. A status
	 * line that arrived counts even if the transfer failed after it. */
	int status;
	long retry_after_ms;	     /* Retry-After of the response, -1 when absent */
	long ms;		     /* time from submit to completion */
	char error[CURL_ERROR_SIZE]; /* how the transfer failed (also after a status), else "" */
	/* How often the request was sent: more than 1 when libcurl re-sent it
	 * on a new connection after a reused one closed without an answer
	 * (the endpoint may have seen each of them). 0 if it never went out. */
	unsigned requests;
	/* The guard refused the address (error says which): nothing was sent. */
	bool address_refused;
	const char
	    *body; /* first DISP_BODY_MAX bytes of the response body, borrowed for the callback */
	size_t body_len;
};

/* Called once per finished transfer. res is NULL when the transfer was
 * cancelled by disp_cancel_all. The callback must not call back into disp. */
typedef void (*disp_done_fn)(void *user, const struct disp_result *res, void *arg);

/* Needs curl_global_init to have run. NULL on allocation failure. */
struct disp *disp_new(void);
/* Cancels what is still running (no callbacks) and frees everything. */
void disp_free(struct disp *d);

/* Keeps up to n finished transfers' easy handles, reset, for the next
 * requests (0 by default: none), and frees the idle ones past n. */
void disp_set_idle_max(struct disp *d, size_t n);
/* How many reset handles wait for a request. */
size_t disp_idle(const struct disp *d);

/* Starts a POST. Returns 0, or -1 when it could not be started. */
int disp_submit(struct disp *d, const struct disp_request *req) __attribute__((warn_unused_result));

/* With a proxy (an explicit one, or proxy = "env": the environment's may be
 * on a public address), the guard cannot see where the proxy connects: an
 * endpoint whose URL host is an IP address that is not public (a trailing
 * dot ignored), or localhost, is refused before the request starts. false, with why ("endpoint address
 * not allowed: ..."), when e refuses url; true otherwise (no guard, no
 * proxy: the connection itself is judged). */
bool disp_url_allowed(const struct disp_egress *e, const char *url, char *why, size_t len);

/* Waits up to timeout_ms for network activity on the transfers or on the
 * extra descriptors (their revents are filled in). Returns 0 or -1. */
int disp_wait(struct disp *d, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms);

/* Drives the transfers and calls fn for each one that finished. */
void disp_collect(struct disp *d, disp_done_fn fn, void *arg);

/* Stops every running transfer, calling fn with a NULL result for each. */
void disp_cancel_all(struct disp *d, disp_done_fn fn, void *arg);

size_t disp_running(const struct disp *d);

/* A day is past any retry schedule: Retry-After is capped there. */
#define DISP_RETRY_AFTER_MAX_S 86400L

/* The value of a Retry-After header (RFC 9110: delay-seconds, or an
 * HTTP-date) as seconds from now (unix seconds), capped at
 * DISP_RETRY_AFTER_MAX_S; -1 when it is neither, or a date already past.
 * Blanks and the line's CR LF around it are ignored. Pure. */
long disp_retry_after_s(const char *value, size_t len, long long now);

#endif
