/* notify: the systemd notify protocol (sd_notify(3)) spoken by hand: one
 * datagram per message to the AF_UNIX socket that $NOTIFY_SOCKET names (a
 * path, or '@' and an abstract name). Without NOTIFY_SOCKET it does nothing.
 * What is due when (READY, RELOADING, STOPPING, STATUS, WATCHDOG) is pure
 * state: figures and the time go in, a message comes out (ntf_due); only
 * ntf_open, ntf_tick, ntf_reloading, ntf_stopping and ntf_close touch the
 * socket. One struct ntf per process, owned by the bridge's loop. */
#ifndef HSBRIDGE_NOTIFY_H
#define HSBRIDGE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* The longest STATUS= text (systemd shows it in `systemctl status`). */
#define NTF_STATUS_MAX 160
/* The longest message: READY, STATUS and WATCHDOG together fit. */
#define NTF_MSG_MAX 256
/* State messages held for a resend; a start, a reload and a stop make 4. */
#define NTF_PENDING_MAX 4
/* How soon a held state message is tried again. */
#define NTF_RETRY_MS 100
/* A changed STATUS is sent at most this often; a change within the
 * interval is sent when it ends. */
#define NTF_STATUS_EVERY_US 1000000LL

/* The bridge as the STATUS summary line tells it. */
struct ntf_figures {
	bool connected;	  /* the consuming session is up */
	bool retrying;	  /* disconnected after a failed connect, waiting for the next */
	bool reloading;	  /* a new config waits for the work in flight to drain */
	bool stopping;	  /* SIGTERM: finishing or handing back what is in flight */
	bool copies_down; /* the copy connection is down (copies are held) */
	bool blocked;	  /* a broker alarm blocks the copy connection */
	size_t consuming; /* subscriptions with a consumer */
	size_t in_flight; /* deliveries alive */
	size_t held;	  /* copies waiting to be published */
	size_t breakers_open;
};

struct ntf {
	int fd; /* -1: notify is off (no NOTIFY_SOCKET, or an unusable one) */
	struct sockaddr_un addr;
	socklen_t addrlen;
	long long watchdog_us; /* how often to send WATCHDOG=1 (half of WATCHDOG_USEC); 0: never */
	long long watchdog_due_us;   /* CLOCK_MONOTONIC µs */
	bool ready;		     /* READY=1 was sent after the start */
	bool reloading;		     /* RELOADING=1 was sent, its READY=1 not yet */
	bool stopping;		     /* STOPPING=1 was sent: no READY=1 any more */
	long long status_due_us;     /* no STATUS= before this */
	char status[NTF_STATUS_MAX]; /* the last STATUS= text sent */
	bool send_failed;	     /* a send failed and was logged (once) */
	/* READY, RELOADING and STOPPING messages a full socket refused, in
	 * order: sent again before anything else of their kind (a lost READY=1
	 * would leave the unit "activating" until systemd kills it). */
	char pending[NTF_PENDING_MAX][NTF_MSG_MAX];
	size_t n_pending;
};

/* --- pure */

/* The socket address $NOTIFY_SOCKET names: an absolute path, or '@' and an
 * abstract name. 0, or -1 for NULL, "", a relative path or one too long. */
int ntf_socket_addr(const char *env, struct sockaddr_un *addr, socklen_t *len)
    __attribute__((warn_unused_result));

/* How often to pet the watchdog, in µs: half of WATCHDOG_USEC (decimal
 * digits only, > 0). 0 (no watchdog) when it is absent or invalid, or when
 * WATCHDOG_PID is set and is not self (the watchdog is another process's). */
long long ntf_watchdog_every_us(const char *usec, const char *pid, pid_t self);

/* The one-line STATUS= text for f, NUL-terminated in buf (len > 0), e.g.
 * "consuming 3 subscriptions, 12 in flight, 1 breaker open" or "broker
 * unavailable, retrying". Returns buf. */
char *ntf_summary(const struct ntf_figures *f, char *buf, size_t len);

/* An n without a socket, as ntf_open leaves it when notify is off; with
 * watchdog_us (0: none) and the first WATCHDOG=1 due at now_us. */
void ntf_init(struct ntf *n, long long watchdog_us, long long now_us);

/* What is due at now_us for the bridge as f says, written into msg (len >=
 * NTF_MSG_MAX) as "KEY=value" lines joined by '\n', and taken as sent:
 *  READY=1  the first time f is connected (start-up done), or when a reload
 *           (ntf_reload_msg) is over, f->reloading false again: applied or
 *           rejected; never after STOPPING=1;
 *  STATUS=  with READY=1, and whenever the summary changed, at most once
 *           per NTF_STATUS_EVERY_US;
 *  WATCHDOG=1 every n->watchdog_us.
 * Returns the length of msg, 0 when nothing is due. */
size_t ntf_due(struct ntf *n, const struct ntf_figures *f, long long now_us, char *msg, size_t len);

/* SIGHUP at now_us: "RELOADING=1\nMONOTONIC_USEC=<now_us>\nSTATUS=…" into
 * msg, unless the start-up is not over (no READY=1 yet), a reload is
 * already announced or the bridge is stopping. Returns its length or 0. */
size_t ntf_reload_msg(struct ntf *n, long long now_us, char *msg, size_t len);

/* SIGTERM: "STOPPING=1\nSTATUS=stopping" into msg, once. Returns its length
 * or 0. */
size_t ntf_stop_msg(struct ntf *n, char *msg, size_t len);

/* How long the loop may wait (at most max_ms) before something is due at
 * now_us: the next WATCHDOG=1, or the end of the STATUS= interval. */
int ntf_wait_ms(const struct ntf *n, long long now_us, int max_ms);

/* --- with the socket */

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and opens the socket.
 * An unusable NOTIFY_SOCKET is logged (warn) and notify stays off. */
void ntf_open(struct ntf *n);
/* Sends what ntf_due says is due; returns ntf_wait_ms. Nothing when off. */
int ntf_tick(struct ntf *n, const struct ntf_figures *f, int max_ms);
/* Sends ntf_reload_msg. */
void ntf_reloading(struct ntf *n);
/* Sends ntf_stop_msg. */
void ntf_stopping(struct ntf *n);
void ntf_close(struct ntf *n);

#endif
