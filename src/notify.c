/* notify: sd_notify(3)'s protocol without libsystemd: the protocol is one
 * datagram of "KEY=value" lines, stable and documented, and the bridge needs
 * nothing else of the library. */
#include "hsbridge/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hsbridge/log.h"

/* ------------------------------------------------------------------ pure */

int ntf_socket_addr(const char *env, struct sockaddr_un *addr, socklen_t *len)
{
	size_t n = env ? strlen(env) : 0;

	/* sun_path holds a path with its NUL, or an abstract name after a NUL. */
	if (n < 2 || (env[0] != '/' && env[0] != '@') || n >= sizeof(addr->sun_path))
		return -1;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, env, n);
	if (env[0] == '@') {
		addr->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

/* A positive decimal number of digits only, or -1. */
static long long positive(const char *s)
{
	char *end = NULL;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	return v;
}

long long ntf_watchdog_every_us(const char *usec, const char *pid, pid_t self)
{
	long long us = positive(usec);

	if (us < 0)
		return 0;
	if (pid && *pid && positive(pid) != (long long)self)
		return 0;
	/* Twice per interval, as sd_watchdog_enabled(3) advises: a pet that
	 * comes a little late still lands in time. */
	return us / 2 > 0 ? us / 2 : 1;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* What the connected bridge has on top of its consumers, appended at at. */
static void connected_extras(const struct ntf_figures *f, char *buf, size_t len, size_t at)
{
	if (at < len && f->breakers_open)
		at += (size_t)snprintf(buf + at, len - at, ", %zu %s open", f->breakers_open,
				       plural(f->breakers_open, "breaker", "breakers"));
	if (at < len && f->held)
		at += (size_t)snprintf(buf + at, len - at, ", %zu %s held", f->held,
				       plural(f->held, "copy", "copies"));
	if (at < len && f->copies_down)
		(void)snprintf(buf + at, len - at, ", copy connection down");
	else if (at < len && f->blocked)
		(void)snprintf(buf + at, len - at, ", copies blocked by a broker alarm");
}

char *ntf_summary(const struct ntf_figures *f, char *buf, size_t len)
{
	int n;

	if (f->stopping)
		n = snprintf(buf, len, "stopping: %zu in flight", f->in_flight);
	else if (f->reloading)
		n = snprintf(buf, len, "reloading: draining %zu in flight", f->in_flight);
	else if (!f->connected)
		n = snprintf(buf, len, "%s",
			     f->retrying ? "broker unavailable, retrying"
					 : "connecting to the broker");
	else
		n = snprintf(buf, len, "consuming %zu %s, %zu in flight", f->consuming,
			     plural(f->consuming, "subscription", "subscriptions"), f->in_flight);
	if (n > 0 && f->connected && !f->stopping && !f->reloading)
		connected_extras(f, buf, len, (size_t)n);
	return buf;
}

void ntf_init(struct ntf *n, long long watchdog_us, long long now_us)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->watchdog_us = watchdog_us;
	n->watchdog_due_us = now_us;
}

/* Appends the line "KEY=value" to msg (*at bytes so far, NUL-terminated).
 * A line that does not fit is left out whole: a cut one would tell systemd
 * a wrong value. */
static void add_line(char *msg, size_t len, size_t *at, const char *key, const char *value)
{
	size_t k = strlen(key);
	size_t v = strlen(value);

	if (*at + (*at ? 1 : 0) + k + 1 + v >= len)
		return;
	if (*at)
		msg[(*at)++] = '\n';
	memcpy(msg + *at, key, k);
	*at += k;
	msg[(*at)++] = '=';
	memcpy(msg + *at, value, v);
	*at += v;
	msg[*at] = '\0';
}

size_t ntf_due(struct ntf *n, const struct ntf_figures *f, long long now_us, char *msg, size_t len)
{
	char status[NTF_STATUS_MAX];
	bool ready = false;
	size_t at = 0;

	msg[0] = '\0';
	if (!n->stopping && !n->ready && f->connected) {
		n->ready = true;
		ready = true;
	} else if (!n->stopping && n->reloading && !f->reloading) {
		n->reloading = false;
		ready = true;
	}
	if (ready)
		add_line(msg, len, &at, "READY", "1");
	if (ready || now_us >= n->status_due_us) {
		ntf_summary(f, status, sizeof(status));
		if (ready || strcmp(status, n->status) != 0) {
			add_line(msg, len, &at, "STATUS", status);
			memcpy(n->status, status, sizeof(status));
			n->status_due_us = now_us + NTF_STATUS_EVERY_US;
		}
	}
	if (n->watchdog_us > 0 && now_us >= n->watchdog_due_us) {
		add_line(msg, len, &at, "WATCHDOG", "1");
		n->watchdog_due_us = now_us + n->watchdog_us;
	}
	return at;
}

size_t ntf_reload_msg(struct ntf *n, long long now_us, char *msg, size_t len)
{
	char usec[32];
	size_t at = 0;

	msg[0] = '\0';
	if (!n->ready || n->reloading || n->stopping)
		return 0;
	n->reloading = true;
	snprintf(usec, sizeof(usec), "%lld", now_us);
	add_line(msg, len, &at, "RELOADING", "1");
	add_line(msg, len, &at, "MONOTONIC_USEC", usec);
	add_line(msg, len, &at, "STATUS", "reloading the config");
	snprintf(n->status, sizeof(n->status), "reloading the config");
	return at;
}

size_t ntf_stop_msg(struct ntf *n, char *msg, size_t len)
{
	size_t at = 0;

	msg[0] = '\0';
	if (n->stopping)
		return 0;
	n->stopping = true;
	add_line(msg, len, &at, "STOPPING", "1");
	add_line(msg, len, &at, "STATUS", "stopping");
	snprintf(n->status, sizeof(n->status), "stopping");
	return at;
}

/* Milliseconds from now_us until due_us, rounded up: the wait must not end
 * before it is due, or the loop turns once for nothing. */
static long long ms_until(long long due_us, long long now_us)
{
	return due_us <= now_us ? 0 : (due_us - now_us + 999) / 1000;
}

int ntf_wait_ms(const struct ntf *n, long long now_us, int max_ms)
{
	long long ms = max_ms;

	if (n->watchdog_us > 0 && ms_until(n->watchdog_due_us, now_us) < ms)
		ms = ms_until(n->watchdog_due_us, now_us);
	if (n->status_due_us > now_us && ms_until(n->status_due_us, now_us) < ms)
		ms = ms_until(n->status_due_us, now_us);
	return (int)ms;
}

/* ----------------------------------------------------------- the socket */

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One datagram, never blocking the loop. True when the socket took it. A
 * failure is logged once. */
static bool send_one(struct ntf *n, const char *msg, size_t len)
{
	if (sendto(n->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
		   n->addrlen) >= 0)
		return true;
	if (!n->send_failed) {
		n->send_failed = true;
		log_line(LOGL_WARN, "notify", LOG_S("error", strerror(errno)),
			 LOG_S("effect", "a message to systemd (NOTIFY_SOCKET) was not taken: "
					 "READY, RELOADING and STOPPING are sent again"));
	}
	return false;
}

/* READY=1, RELOADING=1, STOPPING=1 change the unit's state: one lost would
 * leave systemd waiting. STATUS and WATCHDOG alone are made good by the
 * next ones. */
static bool changes_state(const char *msg)
{
	return strncmp(msg, "READY=1", 7) == 0 || strncmp(msg, "RELOADING=1", 11) == 0 ||
	       strncmp(msg, "STOPPING=1", 10) == 0;
}

/* Sends the held state messages in order; stops at the first refused. */
static void send_pending(struct ntf *n)
{
	size_t sent = 0;

	while (sent < n->n_pending && send_one(n, n->pending[sent], strlen(n->pending[sent])))
		sent++;
	memmove(n->pending, n->pending[sent], (n->n_pending - sent) * sizeof(n->pending[0]));
	n->n_pending -= sent;
}

static void send_msg(struct ntf *n, const char *msg, size_t len)
{
	if (n->fd < 0 || len == 0)
		return;
	if (!changes_state(msg)) {
		(void)send_one(n, msg, len);
		return;
	}
	send_pending(n);
	if (n->n_pending == 0 && send_one(n, msg, len))
		return;
	if (n->n_pending == NTF_PENDING_MAX) { /* the oldest goes: the newest state wins */
		memmove(n->pending[0], n->pending[1], (NTF_PENDING_MAX - 1) * sizeof(n->pending[0]));
		n->n_pending--;
	}
	memcpy(n->pending[n->n_pending++], msg, len + 1);
}

void ntf_open(struct ntf *n)
{
	const char *env = getenv("NOTIFY_SOCKET");
	long long every =
	    ntf_watchdog_every_us(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());

	ntf_init(n, every, mono_us());
	if (!env || !*env)
		return;
	if (ntf_socket_addr(env, &n->addr, &n->addrlen) != 0) {
		log_line(LOGL_WARN, "notify",
			 LOG_S("error", "NOTIFY_SOCKET is not an absolute path or an @abstract "
					"name (or is too long)"),
			 LOG_S("effect", "systemd is not notified"));
		return;
	}
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		log_line(LOGL_WARN, "notify", LOG_S("error", strerror(errno)),
			 LOG_S("effect", "systemd is not notified"));
		return;
	}
	log_line(LOGL_INFO, "notify", LOG_S("socket", env),
		 LOG_I("watchdog_ms", n->watchdog_us / 1000));
}

int ntf_tick(struct ntf *n, const struct ntf_figures *f, int max_ms)
{
	char msg[NTF_MSG_MAX];
	long long now;

	if (n->fd < 0)
		return max_ms;
	now = mono_us();
	send_pending(n);
	send_msg(n, msg, ntf_due(n, f, now, msg, sizeof(msg)));
	if (n->n_pending > 0 && max_ms > NTF_RETRY_MS)
		max_ms = NTF_RETRY_MS;
	return ntf_wait_ms(n, now, max_ms);
}

void ntf_reloading(struct ntf *n)
{
	char msg[NTF_MSG_MAX];

	if (n->fd >= 0)
		send_msg(n, msg, ntf_reload_msg(n, mono_us(), msg, sizeof(msg)));
}

void ntf_stopping(struct ntf *n)
{
	char msg[NTF_MSG_MAX];

	if (n->fd >= 0)
		send_msg(n, msg, ntf_stop_msg(n, msg, sizeof(msg)));
}

void ntf_close(struct ntf *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
