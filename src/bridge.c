/* bridge: one thread, one loop. curl_multi_poll waits on the webhook
 * transfers and on the two AMQP sockets (consuming, publishing copies);
 * every delivery goes through the states of delivery.h (bridge_relay.c) and
 * is acked only once its fate is final or its copy is confirmed by the
 * broker. Nothing in the loop waits for the broker's answer: cancels and
 * closes are sent, not awaited (or bounded), connects are bounded. */
#include "hsbridge/bridge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bridge_int.h"
#include "hsbridge/clock.h"
#include "hsbridge/log.h"
#include "hsbridge/topology.h"
#include "hsbridge/url.h"

#define MAX_FRAMES_PER_TURN 256
#define DISCONNECTED_WAIT_MS 200
/* After SIGTERM: the longest request timeout plus this, then hand back.
 * With the two bounded closes (BRK_CLOSE_WAIT_MS each) the process is gone
 * within timeout_ms + 2 s. */
#define STOP_GRACE_MS 800

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

void bridge_request_stop(void)
{
	stop_requested = 1;
}

void bridge_request_reload(void)
{
	reload_requested = 1;
}

void bridge_mark_broken(struct bridge *br, const char *why)
{
	if (!br->broken)
		snprintf(br->err, sizeof(br->err), "%s", why);
	br->broken = true;
}

void bridge_mark_pub_broken(struct bridge *br, const char *why)
{
	if (!br->pub_broken)
		snprintf(br->pub_err, sizeof(br->pub_err), "%s", why);
	br->pub_broken = true;
}

bool bridge_pub_ready(const struct bridge *br)
{
	return br->pub && !br->pub_broken && !br->blocked;
}

bool bridge_only_stuck_copies(const struct bridge *br)
{
	return br->dlv.count[DLV_RECEIVED] == 0 && br->dlv.count[DLV_POSTING] == 0 &&
	       (br->dlv.count[DLV_CONFIRMING] == 0 || !bridge_pub_ready(br));
}

/* The next reconnect time after `failures` failed attempts: jittered, so
 * that bridges which lost the same broker do not come back in step. */
static long long backoff_until(unsigned failures)
{
	return clk_mono_ms() + brk_backoff_ms(failures, (uint32_t)rand());
}

/* ---------------------------------------------------------------- session */

/* The URL a connection tries now, and how logs name its node (host:port,
 * never the credentials). */
static const char *node_url(const struct bridge *br, const struct nodes *s)
{
	return br->cfg->broker_urls[nodes_current(s)];
}

static const char *node_name(const struct bridge *br, const struct nodes *s, char *buf, size_t len)
{
	url_amqp_node(node_url(br, s), buf, len);
	return buf;
}

/* A try of a node failed: the next node is tried at once, unless every
 * node failed in this pass; then the backoff. */
static long long next_try_ms(struct nodes *s, unsigned *failures)
{
	if (nodes_failed(s))
		return backoff_until((*failures)++);
	return clk_mono_ms();
}

/* With more than one URL, says in which order this process tries them. */
static void log_node_order(const struct bridge *br)
{
	char order[NODES_MAX * 64] = "";
	char node[BRK_NAME_MAX];
	size_t len = 0;
	struct nodes s = br->nodes;

	if (s.n < 2)
		return;
	for (size_t i = 0; i < s.n && len < sizeof(order); i++) {
		url_amqp_node(node_url(br, &s), node, sizeof(node));
		len +=
		    (size_t)snprintf(order + len, sizeof(order) - len, "%s%s", i ? ", " : "", node);
		s.pos = (s.pos + 1) % s.n;
	}
	log_line(LOGL_INFO, "nodes", LOG_S("order", order),
		 LOG_I("count", (long long)br->cfg->n_broker_urls));
}

static bool same_urls(const struct cfg *a, const struct cfg *b)
{
	if (a->n_broker_urls != b->n_broker_urls)
		return false;
	for (size_t i = 0; i < a->n_broker_urls; i++) {
		if (strcmp(a->broker_urls[i], b->broker_urls[i]) != 0)
			return false;
	}
	return true;
}

/* Finished transfers keep their curl handles for the next requests: at most
 * as many as the active subscriptions may have in flight together (fewer,
 * and with many subscriptions most handles would still be made and freed
 * per request). Those of the previous config (a reload) are freed. */
static void pool_handles(struct bridge *br)
{
	size_t total = 0;

	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		if (br->cfg->subs[i].active)
			total += (size_t)br->cfg->subs[i].max_in_flight;
	}
	disp_set_idle_max(br->disp, 0);
	disp_set_idle_max(br->disp, total);
}

int bridge_bind_config(struct bridge *br, struct cfg *cfg)
{
	struct dlv_sub *subs = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof(*subs));
	/* A reload that keeps the list keeps the node the bridge is on. */
	bool new_order = !br->cfg || !same_urls(br->cfg, cfg);

	if (!subs)
		return -1;
	breakers_carry_over(br, subs, cfg);
	for (size_t i = 0; i < cfg->n_subs; i++) {
		subs[i].cfg = &cfg->subs[i];
		topo_sub_queue(cfg, cfg->subs[i].name, subs[i].queue, sizeof(subs[i].queue));
		topo_parked_queue(cfg, cfg->subs[i].name, subs[i].parked, sizeof(subs[i].parked));
	}
	if (relay_bind_subs(subs, cfg->n_subs) != 0) {
		free(subs);
		return -1;
	}
	if (figures_bind(br, subs, cfg) != 0) {
		relay_unbind_subs(subs, cfg->n_subs);
		free(subs);
		return -1;
	}
	relay_unbind_subs(br->subs, br->cfg ? br->cfg->n_subs : 0);
	free(br->subs);
	br->subs = subs;
	br->cfg = cfg;
	pool_handles(br);
	if (new_order) {
		nodes_init(&br->nodes, cfg->n_broker_urls, br->node_seed);
		br->pub_nodes = br->nodes;
		log_node_order(br);
	}
	return 0;
}

/* One channel per active subscription, and on it a consumer with prefetch =
 * its max_in_flight (1 while its breaker is half-open; none while open). */
static int start_consumers(struct bridge *br, char *err, size_t errlen)
{
	uint16_t ch = PUB_CH + 1;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < br->cfg->n_subs; i++) {
		struct dlv_sub *s = &br->subs[i];

		if (!s->cfg->active)
			continue;
		rc = brk_channel_open(br->brk, ch, err, errlen);
		if (rc == 0) {
			s->channel = ch++;
			rc = breakers_consume(br, s, err, errlen);
		}
	}
	return rc;
}

/* Connects the publishing connection, first to the node the consuming
 * one is on. A failure is logged and the next node tried on the next turn
 * (after a backoff once every node failed); meanwhile copies are held and
 * consuming goes on. */
static int open_publisher(struct bridge *br)
{
	const struct cfg *cfg = br->cfg;
	char err[BRK_ERR_MAX];
	char node[BRK_NAME_MAX];
	int rc;

	node_name(br, &br->pub_nodes, node, sizeof(node));
	rc = brk_connect(node_url(br, &br->pub_nodes), cfg->heartbeat_s, cfg->ca_file,
			 "hsbridge run copies", &br->pub, err, sizeof(err));
	/* Opened (again) from the running loop: its calls have the loop's bound. */
	if (rc == 0)
		brk_in_loop(br->pub);
	if (rc == 0)
		rc = brk_channel_open(br->pub, PUB_CH, err, sizeof(err));
	if (rc == 0)
		rc = brk_confirm_select(br->pub, PUB_CH, err, sizeof(err));
	if (rc == 0)
		rc = history_open_channel(br, err, sizeof(err));
	if (rc == 0) {
		br->pub_failures = 0;
		nodes_connected(&br->pub_nodes);
		log_line(LOGL_INFO, "connected", LOG_S("connection", "copies"),
			 LOG_S("node", node));
		return 0;
	}
	log_line(LOGL_ERROR, "broker", LOG_S("connection", "copies"), LOG_S("node", node),
		 LOG_S("error", err));
	brk_close(br->pub);
	br->pub = NULL;
	br->pub_reconnect_at_ms = next_try_ms(&br->pub_nodes, &br->pub_failures);
	return rc;
}

/* Closes a failed publishing connection. Its unconfirmed copies have an
 * unknown fate: they are held and published again on the next one, their
 * originals unacked meanwhile (at-least-once: a copy may exist twice). */
static void drop_publisher(struct bridge *br)
{
	char node[BRK_NAME_MAX];

	log_line(LOGL_ERROR, "connection lost", LOG_S("connection", "copies"),
		 LOG_S("node", node_name(br, &br->pub_nodes, node, sizeof(node))),
		 LOG_S("error", br->pub_err),
		 LOG_I("copies_held",
		       (long long)(br->dlv.count[DLV_CONFIRMING] + br->dlv.count[DLV_HELD])));
	relay_hold_unconfirmed(br);
	history_pub_lost(br);
	brk_close(br->pub);
	br->pub = NULL;
	br->pub_broken = false;
	br->pub_seq = 0;
	br->blocked = false;
	/* The broker closes the publishing channel when a copy's exchange was
	 * deleted: declare everything again before the copy goes out again. */
	br->redeclare = true;
	nodes_start_at(&br->pub_nodes, nodes_current(&br->nodes));
	br->pub_reconnect_at_ms = backoff_until(br->pub_failures++);
}

/* The history stream after the topology: one the broker refuses (other
 * retention) is warned about, and deliveries go on; the records still go
 * to it as it is. Only a connection's failure is returned. */
static int declare_history(struct bridge *br, char *err, size_t errlen)
{
	int rc = topo_declare_attempts(br->brk, CTL_CH, br->cfg, err, errlen);

	if (rc != BRK_ERR_CHANNEL)
		return rc;
	log_line(LOGL_WARN, "history", LOG_S("outcome", "stream kept as declared"),
		 LOG_S("error", err));
	err[0] = '\0';
	return 0;
}

int bridge_open_session(struct bridge *br)
{
	const struct cfg *cfg = br->cfg;
	char err[BRK_ERR_MAX];
	char node[BRK_NAME_MAX];
	int rc;

	br->broken = false;
	br->err[0] = '\0';
	node_name(br, &br->nodes, node, sizeof(node));
	rc = brk_connect(node_url(br, &br->nodes), cfg->heartbeat_s, cfg->ca_file, "hsbridge run",
			 &br->brk, err, sizeof(err));
	if (rc != 0)
		goto fail;
	log_line(LOGL_INFO, "connected", LOG_S("node", node));
	rc = brk_channel_open(br->brk, CTL_CH, err, sizeof(err));
	if (rc == 0)
		rc = topo_declare(br->brk, CTL_CH, cfg, err, sizeof(err));
	if (rc == 0)
		rc = declare_history(br, err, sizeof(err));
	if (rc == 0) {
		/* The copies go to the node the consuming connection is on. */
		nodes_start_at(&br->pub_nodes, nodes_current(&br->nodes));
		(void)open_publisher(br);
		rc = start_consumers(br, err, sizeof(err));
	}
	if (rc == 0) {
		brk_in_loop(br->brk);
		nodes_connected(&br->nodes);
		log_line(LOGL_INFO, "ready", LOG_I("subscriptions", (long long)cfg->n_subs),
			 LOG_S("node", node), LOG_S("version", HSB_VERSION));
		return 0;
	}
fail:
	log_line(LOGL_ERROR, "broker", LOG_S("node", node), LOG_S("error", err));
	if (br->brk)
		bridge_drop_session(br);
	/* A refused declare (a queue with other arguments) ends a first start
	 * with EX_CONFIG; after a reconnect the loop tries again, and the next
	 * try waits like any other failed one. */
	br->reconnect_at_ms = next_try_ms(&br->nodes, &br->failures);
	return rc == BRK_ERR_CHANNEL ? EX_CONFIG : EX_UNAVAILABLE;
}

/* Forgets everything tied to the connections: what is not acked goes back
 * to its queue on the broker's side when the consuming connection closes. */
/* A delivery whose copy was decided ("retry", "parked") but is not in its
 * queue yet goes back with its original: say so, one line each. */
static void log_copies_handed_back(const struct bridge *br)
{
	static const enum dlv_state waiting[] = {DLV_HELD, DLV_CONFIRMING};

	for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++) {
		for (const struct delivery *d = br->dlv.head[waiting[i]]; d; d = d->next)
			log_line(LOGL_WARN, "handed back", LOG_S("sub", d->sub->cfg->name),
				 LOG_S("event", d->ev.body ? d->ev.id : NULL),
				 LOG_S("delivery", d->ev.body ? d->id : NULL),
				 LOG_S("routing_key", d->copy.routing_key),
				 LOG_S("error", waiting[i] == DLV_HELD
						    ? "its copy was held: the original goes back to its "
						      "queue unacked and is delivered again"
						    : "its copy was not confirmed: the original goes back "
						      "to its queue unacked and is delivered again"));
	}
}

void bridge_drop_session(struct bridge *br)
{
	disp_cancel_all(br->disp, relay_on_http_done, br);
	log_copies_handed_back(br);
	dlv_hand_back_all(&br->dlv);
	dlv_reap(&br->dlv);
	history_pub_lost(br);
	brk_close(br->pub);
	br->pub = NULL;
	br->pub_broken = false;
	brk_close(br->brk);
	br->brk = NULL;
	br->pub_seq = 0;
	br->blocked = false;
	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		br->subs[i].channel = 0;
		br->subs[i].prefetch = 0;
	}
}

void bridge_stop_consuming(struct bridge *br)
{
	for (size_t i = 0; i < br->cfg->n_subs; i++)
		breakers_cancel(br, &br->subs[i]);
}

/* Puts back what an operator deleted under a running bridge, so that the
 * refused copy finds its queue when it is published again. */
static void redeclare_topology(struct bridge *br)
{
	char err[BRK_ERR_MAX];

	br->redeclare = false;
	if (topo_declare(br->brk, CTL_CH, br->cfg, err, sizeof(err)) != 0 ||
	    declare_history(br, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "topology", LOG_S("error", err));
		bridge_mark_broken(br, "declaring the topology again failed");
	} else {
		log_line(LOGL_WARN, "topology", LOG_S("outcome", "declared again"));
	}
}

/* ------------------------------------------------------------- loop steps */

/* Acts on SIGTERM: stop consuming, let in-flight work finish until the
 * grace deadline; copies that cannot be published now (an alarm) are not
 * waited for. True when the loop is done: what is alive is handed back. */
static bool step_stop(struct bridge *br)
{
	if (stop_requested && !br->stopping) {
		long t = br->cfg->timeout_ms;

		for (size_t i = 0; i < br->cfg->n_subs; i++) {
			if (br->cfg->subs[i].timeout_ms > t)
				t = br->cfg->subs[i].timeout_ms;
		}
		br->stopping = true;
		ntf_stopping(&br->ntf);
		br->stop_deadline_ms = clk_mono_ms() + t + STOP_GRACE_MS;
		log_line(LOGL_INFO, "shutdown", LOG_S("phase", "stop consuming"),
			 LOG_I("in_flight", (long long)dlv_alive(&br->dlv)));
		bridge_stop_consuming(br);
	}
	if (!br->stopping)
		return false;
	if (!br->brk || clk_mono_ms() > br->stop_deadline_ms)
		return true;
	/* The records of the last attempts get their chance too (bounded). */
	return (dlv_alive(&br->dlv) == 0 || bridge_only_stuck_copies(br)) && history_settled(br);
}

/* Acts on SIGHUP: stage a valid config, apply it once nothing is in flight. */
static void step_reload(struct bridge *br)
{
	if (br->stopping)
		return;
	if (reload_requested) {
		reload_requested = 0;
		ntf_reloading(&br->ntf);
		reload_stage(br);
	}
	if (reload_ready(br)) {
		reload_apply(br);
		br->reconnect_at_ms = 0;
		br->failures = 0;
	}
}

/* While disconnected, tries again after a jittered backoff; the publishing
 * connection likewise. True when there is a session to work with. */
static bool step_connect(struct bridge *br)
{
	long long now = clk_mono_ms();
	long long wait;

	if (br->brk) {
		if (!br->pub && !br->stopping && now >= br->pub_reconnect_at_ms)
			(void)open_publisher(br);
		return true;
	}
	if (now >= br->reconnect_at_ms) {
		char node[BRK_NAME_MAX];

		log_line(LOGL_WARN, "reconnecting",
			 LOG_S("node", node_name(br, &br->nodes, node, sizeof(node))));
		if (bridge_open_session(br) == 0) {
			figures_reconnected(br);
			reload_unbind_retired(br);
			br->failures = 0;
			return true;
		}
	}
	wait = br->reconnect_at_ms - clk_mono_ms();
	wait = wait < 0 ? 0 : wait < DISCONNECTED_WAIT_MS ? wait : DISCONNECTED_WAIT_MS;
	figures_wait(br, NULL, 0, bridge_notify(br, (int)wait));
	return false;
}

static void on_broker_event(struct bridge *br, struct brk_event *ev, bool publisher)
{
	switch (ev->kind) {
	case BRK_DELIVERY:
		relay_on_delivery(br, ev);
		break;
	case BRK_CONFIRM:
		if (publisher && ev->channel == PUB_CH)
			relay_on_confirm(br, ev);
		else if (publisher && ev->channel == HIST_CH)
			history_on_confirm(br, ev);
		break;
	case BRK_RETURN:
		if (publisher && ev->channel == PUB_CH)
			relay_on_return(br, ev);
		else if (publisher && ev->channel == HIST_CH)
			history_on_return(br);
		break;
	case BRK_BLOCKED:
		/* The consuming connection never publishes: the broker keeps
		 * reading it (acks) during an alarm. */
		if (!publisher)
			break;
		br->blocked = true;
		log_line(LOGL_WARN, "blocked", LOG_S("reason", ev->text),
			 LOG_S("effect", "retry/parked copies are held until the broker "
					 "unblocks the connection"));
		break;
	case BRK_UNBLOCKED:
		if (!publisher)
			break;
		br->blocked = false;
		log_msg(LOGL_INFO, "unblocked");
		break;
	case BRK_CANCEL:
		bridge_mark_broken(br, "the broker cancelled a consumer (was a queue deleted?)");
		break;
	case BRK_NONE:
	case BRK_OTHER:
		break;
	}
}

/* Takes in what one connection sent, a bounded number of frames per turn. */
static void pump(struct bridge *br, struct brk *b, bool publisher)
{
	struct brk_event ev;
	char err[BRK_ERR_MAX];

	for (int i = 0; i < MAX_FRAMES_PER_TURN && !br->broken && !(publisher && br->pub_broken);
	     i++) {
		if (brk_next(b, &ev, err, sizeof(err)) != 0) {
			if (publisher)
				bridge_mark_pub_broken(br, err);
			else
				bridge_mark_broken(br, err);
			return;
		}
		if (ev.kind == BRK_NONE)
			break;
		on_broker_event(br, &ev, publisher);
		brk_event_clear(&ev);
	}
}

static void step_pump_broker(struct bridge *br)
{
	pump(br, br->brk, false);
	if (br->pub && !br->broken)
		pump(br, br->pub, true);
	if (br->redeclare && !br->broken)
		redeclare_topology(br);
}

/* A failed session: hand back what it held, and reconnect after a backoff.
 * True when the session was dropped. A failed publishing connection alone
 * is closed and reconnected; consuming goes on. */
static bool step_recover(struct bridge *br)
{
	char node[BRK_NAME_MAX];

	if (!br->broken) {
		if (br->pub_broken)
			drop_publisher(br);
		return false;
	}
	log_line(LOGL_ERROR, "connection lost",
		 LOG_S("node", node_name(br, &br->nodes, node, sizeof(node))),
		 LOG_S("error", br->err), LOG_I("in_flight", (long long)dlv_alive(&br->dlv)));
	bridge_drop_session(br);
	/* The next node first, the one just lost last. */
	nodes_lost(&br->nodes);
	br->reconnect_at_ms = backoff_until(br->failures++);
	return true;
}

/* The one place the loop waits: transfers, the AMQP sockets, the next held
 * copy or publisher reconnect, the stop deadline, and half the heartbeat at
 * most. */
static void step_wait(struct bridge *br)
{
	struct curl_waitfd wfd[2] = {{.fd = brk_fd(br->brk), .events = CURL_WAIT_POLLIN}};
	unsigned nfd = 1;
	long long now = clk_mono_ms();
	int ms = 1000;

	if (br->cfg->heartbeat_s > 0 && br->cfg->heartbeat_s * 500 < ms)
		ms = br->cfg->heartbeat_s * 500;
	ms = relay_held_wait_ms(br, ms);
	ms = relay_rate_wait_ms(br, ms);
	ms = breakers_wait_ms(br, ms);
	if (br->pub) {
		wfd[nfd].fd = brk_fd(br->pub);
		wfd[nfd++].events = CURL_WAIT_POLLIN;
	} else if (br->pub_reconnect_at_ms - now < ms) {
		ms = br->pub_reconnect_at_ms <= now ? 0 : (int)(br->pub_reconnect_at_ms - now);
	}
	if (br->stopping && br->stop_deadline_ms - now < ms)
		ms = br->stop_deadline_ms <= now ? 0 : (int)(br->stop_deadline_ms - now);
	/* Frames already read do not make the socket readable. */
	if (brk_buffered(br->brk) || (br->pub && brk_buffered(br->pub)))
		ms = 0;
	figures_wait(br, wfd, nfd, bridge_notify(br, ms));
}

int bridge_run(struct cfg **cfgp)
{
	struct bridge br;
	int rc;

	memset(&br, 0, sizeof(br));
	dlv_set_init(&br.dlv);
	ntf_open(&br.ntf);
	srand((unsigned)getpid() ^ (unsigned)clk_mono_ms());
	/* Bridges started together (a boot) differ in pid; restarts of one
	 * bridge differ in time: each gets its own order of the nodes. */
	br.node_seed =
	    (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL) ^ (uint32_t)clk_mono_ms();
	br.disp = disp_new();
	prom_init(&br.prom, HSB_VERSION);
	if (!br.disp || history_start(&br) != 0 || bridge_bind_config(&br, *cfgp) != 0) {
		rc = EX_TEMPFAIL; /* out of memory */
		goto out;
	}
	if (figures_start(&br) != 0) {
		rc = EX_UNAVAILABLE;
		goto out;
	}
	/* A broker that is not up yet (a boot, a restart) is waited for like a
	 * lost one; only a topology it refuses ends the run (78). */
	rc = bridge_open_session(&br);
	if (rc == EX_CONFIG)
		goto out;
	rc = 0;
	while (!step_stop(&br)) {
		figures_serve(&br);
		step_reload(&br);
		if (!step_connect(&br))
			continue;
		step_pump_broker(&br);
		disp_collect(br.disp, relay_on_http_done, &br);
		breakers_step(&br);
		relay_post_waiting(&br);
		relay_publish_held(&br);
		history_publish(&br);
		relay_flush_acks(&br);
		dlv_reap(&br.dlv);
		if (step_recover(&br))
			continue;
		step_wait(&br);
	}
	log_line(LOGL_INFO, "shutdown", LOG_S("phase", "done"),
		 LOG_I("handed_back", (long long)dlv_alive(&br.dlv)));
out:
	if (br.brk)
		bridge_drop_session(&br);
	*cfgp = br.cfg ? br.cfg : *cfgp;
	cfg_free(br.staged);
	cfg_free(br.retired);
	disp_free(br.disp);
	figures_stop(&br);
	history_stop(&br);
	prom_free(&br.prom);
	ntf_close(&br.ntf);
	relay_unbind_subs(br.subs, br.cfg ? br.cfg->n_subs : 0);
	free(br.subs);
	return rc;
}
