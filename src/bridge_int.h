/* The bridge's own state, shared by its three files: bridge.c (the loop and
 * the broker session), bridge_relay.c (deliveries through their states) and
 * bridge_reload.c (a staged config swap). Not a public header. */
#ifndef HSBRIDGE_BRIDGE_INT_H
#define HSBRIDGE_BRIDGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hsbridge/breaker.h"
#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/delivery.h"
#include "hsbridge/dispatch.h"
#include "hsbridge/metrics.h"
#include "hsbridge/nodes.h"
#include "hsbridge/policy.h"
#include "hsbridge/prom.h"
#include "hsbridge/ratelimit.h"
#include "hsbridge/notify.h"
#include "hsbridge/webhook.h"

/* Two connections (RabbitMQ's advice: a resource alarm blocks a connection
 * that publishes, and then the broker reads nothing from it, acks
 * included). The consuming connection (brk) never publishes: channel CTL_CH
 * declares and binds, subscriptions consume on 2, 3, … and ack there. The
 * publishing connection (pub) carries the retry/parked copies on PUB_CH, in
 * confirm mode. */
#define CTL_CH 1
#define PUB_CH 1
/* The publishing connection's second confirm channel: history records
 * (bridge_history.c), apart from the copies, so that a record refused or
 * unconfirmed never holds a copy, nor a copy a record. */
#define HIST_CH 2

/* A subscription at run time; deliveries borrow it. */
struct dlv_sub {
	const struct cfg_sub *cfg;
	uint16_t channel; /* 0 when it has no channel (inactive, or no session) */
	uint16_t prefetch; /* its consumer's basic.qos; 0: no consumer (breaker open) */
	/* Kept across reconnects, and across reloads that keep its name and url. */
	struct breaker breaker;
	/* Its figures for /metrics: kept across reloads that keep its name. */
	struct prom_sub *prom;
	struct wh_sub *wh; /* what its requests share (keys), made when it is bound */
	struct disp_egress egress; /* how its requests leave (cfg->egress), when bound */
	/* max_per_second: a delivery whose envelope is checked waits RECEIVED
	 * for a token. The consumer's prefetch is cut to the burst
	 * (relay_prefetch), so at most one burst waits in memory: the rest
	 * stays Ready in the queue. */
	struct rl_bucket bucket;
	char queue[BRK_NAME_MAX];
	char parked[BRK_NAME_MAX];
};

struct bridge {
	struct cfg *cfg;     /* running; deliveries borrow its subscriptions */
	struct cfg *staged;  /* valid, waiting for in-flight work to drain */
	struct cfg *retired; /* before a reload, until what it alone bound is unbound */
	struct dlv_sub *subs;
	struct brk *brk; /* consuming; NULL while disconnected */
	struct brk *pub; /* publishing copies; NULL while down (copies are held) */
	struct disp *disp;
	struct dlv_set dlv;
	uint64_t pub_seq; /* publishes on pub this connection: the confirm numbering */
	bool blocked;	  /* pub is blocked by a broker alarm: publishing would pile up */
	bool redeclare;	  /* a copy came back unroutable: someone deleted a queue */
	bool broken;	  /* the session failed; err says why */
	bool pub_broken;  /* pub failed (the session goes on); pub_err says why */
	bool stopping;
	long long stop_deadline_ms;
	long long reconnect_at_ms;
	long long pub_reconnect_at_ms;
	/* Which URL of broker.url each connection tries (nodes.h): both in the
	 * same shuffled order; pub starts on the node brk is on. */
	struct nodes nodes;
	struct nodes pub_nodes;
	uint32_t node_seed;    /* the order's seed: one per process */
	unsigned failures;     /* passes over the nodes failed in a row (the backoff) */
	unsigned pub_failures; /* the same for pub */
	char err[BRK_ERR_MAX];
	char pub_err[BRK_ERR_MAX];
	struct prom prom;      /* the figures /metrics shows */
	struct metrics *http;  /* the metrics.listen listener; NULL: none */
	struct ntf ntf; /* systemd's NOTIFY_SOCKET (bridge_notify.c) */
	struct hist_pub *hist; /* attempt records waiting for pub (bridge_history.c) */
};

/* The session is unusable from here on: the loop drops it and reconnects. */
void bridge_mark_broken(struct bridge *br, const char *why);
/* The publishing connection is unusable: the loop closes it, holds the
 * unconfirmed copies and connects it again; consuming goes on. */
void bridge_mark_pub_broken(struct bridge *br, const char *why);
/* Copies can be published now: pub is up and not blocked. */
bool bridge_pub_ready(const struct bridge *br);
/* What is alive waits only for copies: held ones (an alarm, pub down, or
 * refused by the broker, e.g. a full parked queue: they may wait for an
 * operator) or, while pub cannot publish, unconfirmed ones. No POST, no
 * delivery being checked. A drain for SIGTERM or SIGHUP does not wait for
 * them: their originals are handed back, unacked, and delivered again. */
bool bridge_only_stuck_copies(const struct bridge *br);
/* Connects, declares the topology and starts consuming. Returns 0,
 * EX_UNAVAILABLE or EX_CONFIG. */
int bridge_open_session(struct bridge *br);
/* Hands back what is in flight (the broker redelivers it) and closes. */
void bridge_drop_session(struct bridge *br);
/* Cancels every consumer: no new deliveries, the ones in flight finish. */
void bridge_stop_consuming(struct bridge *br);
/* Points the runtime subscriptions at cfg; only when no delivery is alive. */
int bridge_bind_config(struct bridge *br, struct cfg *cfg) __attribute__((warn_unused_result));

/* bridge_relay.c: a delivery's way through its states. */
/* Makes what the requests of each of the n subs share (their cfg set).
 * Returns 0, or -1 when out of memory (nothing is left made). */
int relay_bind_subs(struct dlv_sub *subs, size_t n) __attribute__((warn_unused_result));
/* Frees what relay_bind_subs made (subs may be NULL). */
void relay_unbind_subs(struct dlv_sub *subs, size_t n);
void relay_on_delivery(struct bridge *br, struct brk_event *ev);
/* The prefetch of s's consumer while its breaker is closed: max_in_flight,
 * or the burst of max_per_second when that is smaller. */
int relay_prefetch(const struct dlv_sub *s);
/* POSTs the deliveries waiting RECEIVED for a token, oldest first, as far
 * as each subscription's bucket allows. */
void relay_post_waiting(struct bridge *br);
/* How long the loop may wait before a waiting delivery gets its token. */
int relay_rate_wait_ms(const struct bridge *br, int max_ms);
void relay_on_http_done(void *user, const struct disp_result *res, void *arg);
void relay_on_confirm(struct bridge *br, const struct brk_event *ev);
void relay_on_return(struct bridge *br, const struct brk_event *ev);
void relay_publish_held(struct bridge *br);
/* Sends the acks recorded this turn (brk_flush_acks): before the loop
 * waits, so that none waits for the next event. */
void relay_flush_acks(struct bridge *br);
/* CONFIRMING -> HELD for every copy: pub was lost before their confirms,
 * so they are published again on the next pub (the originals stay unacked). */
void relay_hold_unconfirmed(struct bridge *br);
/* How long the loop may wait before a held copy is due (at most max_ms). */
int relay_held_wait_ms(const struct bridge *br, int max_ms);

/* bridge_breaker.c: each subscription's circuit breaker (breaker.h) made
 * real: OPEN cancels the consumer (bindings and queue stay, new events and
 * retry copies wait Ready), HALF_OPEN consumes with prefetch 1 (one probe),
 * CLOSED with max_in_flight. */
/* Starts s's consumer with the prefetch its breaker allows (none while
 * open). A synchronous qos and consume: 0, or a broker status. */
int breakers_consume(struct bridge *br, struct dlv_sub *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Cancels s's consumer, if it has one; does not wait. */
void breakers_cancel(struct bridge *br, struct dlv_sub *s);
/* d is about to be POSTed: the probe, if its breaker waits for one. */
void breakers_on_post(struct delivery *d);
/* d's answer (NULL: the request was cancelled with the session). Opening
 * cancels the consumer at once, before d's original can be acked. last: it
 * was d's last attempt. Returns whether the attempt is spared: it does not
 * count against d's schedule (breaker_spares). */
bool breakers_on_answer(struct bridge *br, struct delivery *d, const struct disp_result *res,
			bool last);
/* Half-opens what is due and drained, and brings every consumer to the
 * prefetch its breaker wants. */
void breakers_step(struct bridge *br);
/* How long the loop may wait before a cool-down ends (at most max_ms). */
int breakers_wait_ms(const struct bridge *br, int max_ms);
/* subs (for cfg) take over the breakers of br's current subscriptions with
 * the same name and url, under their new conf (breaker_reconf); the others
 * start closed. */
void breakers_carry_over(const struct bridge *br, struct dlv_sub *subs, const struct cfg *cfg);

/* bridge_metrics.c: the figures (prom.h) counted where the relay decides,
 * and the metrics.listen listener (metrics.h) served from the loop. */
/* Starts the listener of br->cfg (none when metrics.listen is unset).
 * Returns 0, or -1 when it cannot listen (logged). */
int figures_start(struct bridge *br) __attribute__((warn_unused_result));
void figures_stop(struct bridge *br);
/* After a reload: a new metrics.listen is bound, the old one closed. */
void figures_reconf(struct bridge *br);
/* subs (for cfg) point at their figures: kept for the names kept. Returns
 * 0, or -1 when out of memory. */
int figures_bind(struct bridge *br, struct dlv_sub *subs, const struct cfg *cfg)
    __attribute__((warn_unused_result));
/* disp_wait with the listener's descriptor among the extra ones (at most
 * 3 of the caller's) and its timeout. */
int figures_wait(struct bridge *br, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms);
/* Serves the listener's ready requests; called once per turn. */
void figures_serve(struct bridge *br);
/* An attempt's end (d has moved on: HANDED_BACK means no outcome). */
void figures_attempt(const struct delivery *d, enum pol_action act, const struct disp_result *res);
/* An event parked without an attempt. */
void figures_parked(const struct delivery *d);
void figures_breaker_opened(const struct dlv_sub *s);
void figures_reconnected(struct bridge *br);
/* bridge_notify.c: tells systemd what is due (READY, STATUS, WATCHDOG;
 * notify.h) before the loop waits; returns max_ms, or less when something
 * falls due sooner. */
int bridge_notify(struct bridge *br, int max_ms);

/* bridge_history.c: every attempt recorded in <prefix>.attempts, off the
 * delivery path: queued (bounded), published once per turn on HIST_CH,
 * dropped and counted when that cannot be done. */
int history_start(struct bridge *br) __attribute__((warn_unused_result));
void history_stop(struct bridge *br);
/* One record of d's attempt, when history is enabled. Never waits. res's
 * body goes into the stream as it is: the caller has scrubbed echoes of
 * the subscription's header values out of it (log_attempt). */
void history_record(struct bridge *br, const struct delivery *d, const struct disp_result *res,
		    const char *outcome, const char *next, const char *error);
/* One record of d parked before any attempt (attempt 0): its message_id
 * (mid, may be NULL) and why. */
void history_invalid(struct bridge *br, const struct delivery *d, const char *mid,
		     const char *why);
/* Opens HIST_CH on a new pub in confirm mode (nothing when disabled). */
int history_open_channel(struct bridge *br, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* pub is gone: its unconfirmed records are counted as dropped. */
void history_pub_lost(struct bridge *br);
void history_on_confirm(struct bridge *br, const struct brk_event *ev);
void history_on_return(struct bridge *br);
/* Publishes what waits (the loop's batch, once per turn). */
void history_publish(struct bridge *br);
/* Nothing waits to be published or confirmed (or it cannot be: pub is
 * down or blocked), or SETTLE_GRACE_MS passed since it was first asked:
 * a reload or SIGTERM may close pub. */
bool history_settled(const struct bridge *br);

/* bridge_reload.c: SIGHUP. */
void reload_stage(struct bridge *br);
bool reload_ready(const struct bridge *br);
void reload_apply(struct bridge *br);
void reload_unbind_retired(struct bridge *br);

#endif
