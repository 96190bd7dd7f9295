/* The bridge's own state, shared by its three files: bridge.c (the loop and
 * the broker session), bridge_relay.c (deliveries through their states) and
 * bridge_reload.c (a staged config swap). Not a public header. */
#ifndef HSBRIDGE_BRIDGE_INT_H
#define HSBRIDGE_BRIDGE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/delivery.h"
#include "hsbridge/dispatch.h"

/* The publishing channel (confirm mode); subscriptions consume on 2, 3, … */
#define PUB_CH 1

/* A subscription at run time; deliveries borrow it. */
struct dlv_sub {
	const struct cfg_sub *cfg;
	uint16_t channel; /* 0 when not consuming */
	char queue[BRK_NAME_MAX];
	char parked[BRK_NAME_MAX];
};

struct bridge {
	struct cfg *cfg;     /* running; deliveries borrow its subscriptions */
	struct cfg *staged;  /* valid, waiting for in-flight work to drain */
	struct cfg *retired; /* before a reload, until what it alone bound is unbound */
	struct dlv_sub *subs;
	struct brk *brk; /* NULL while disconnected */
	struct disp *disp;
	struct dlv_set dlv;
	uint64_t pub_seq; /* publishes on PUB_CH this session: the confirm numbering */
	bool blocked;	  /* a broker alarm: publishing would only pile up */
	bool redeclare;	  /* a copy came back unroutable: someone deleted a queue */
	bool broken;	  /* the session failed; err says why */
	bool stopping;
	long long stop_deadline_ms;
	long long reconnect_at_ms;
	long backoff_ms;
	char err[BRK_ERR_MAX];
};

/* The session is unusable from here on: the loop drops it and reconnects. */
void bridge_mark_broken(struct bridge *br, const char *why);
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
void relay_on_delivery(struct bridge *br, struct brk_event *ev);
void relay_on_http_done(void *user, const struct disp_result *res, void *arg);
void relay_on_confirm(struct bridge *br, const struct brk_event *ev);
void relay_on_return(struct bridge *br, const struct brk_event *ev);
void relay_publish_held(struct bridge *br);
/* How long the loop may wait before a held copy is due (at most max_ms). */
int relay_held_wait_ms(const struct bridge *br, int max_ms);

/* bridge_reload.c: SIGHUP. */
void reload_stage(struct bridge *br);
bool reload_ready(const struct bridge *br);
void reload_apply(struct bridge *br);
void reload_unbind_retired(struct bridge *br);

#endif
