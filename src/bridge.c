/* bridge: one thread, one loop. curl_multi_poll waits on the webhook
 * transfers and on the AMQP socket; every delivery goes through the states
 * of delivery.h (bridge_relay.c) and is acked only once its fate is final or its
 * copy is confirmed by the broker. */
#include "hsbridge/bridge.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bridge_int.h"
#include "hsbridge/clock.h"
#include "hsbridge/log.h"
#include "hsbridge/topology.h"

#define MAX_FRAMES_PER_TURN 256
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 30000
#define DISCONNECTED_WAIT_MS 200
/* After SIGTERM: the longest request timeout plus this, then hand back. */
#define STOP_GRACE_MS 5000

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

/* ---------------------------------------------------------------- session */

int bridge_bind_config(struct bridge *br, struct cfg *cfg)
{
	struct dlv_sub *subs = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof(*subs));

	if (!subs)
		return -1;
	for (size_t i = 0; i < cfg->n_subs; i++) {
		subs[i].cfg = &cfg->subs[i];
		topo_sub_queue(cfg, cfg->subs[i].name, subs[i].queue, sizeof(subs[i].queue));
		topo_parked_queue(cfg, cfg->subs[i].name, subs[i].parked, sizeof(subs[i].parked));
	}
	free(br->subs);
	br->subs = subs;
	br->cfg = cfg;
	return 0;
}

/* One channel per active subscription, prefetch = its max_in_flight. */
static int start_consumers(struct bridge *br, char *err, size_t errlen)
{
	uint16_t ch = PUB_CH + 1;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < br->cfg->n_subs; i++) {
		struct dlv_sub *s = &br->subs[i];

		if (!s->cfg->active)
			continue;
		rc = brk_channel_open(br->brk, ch, err, errlen);
		if (rc == 0)
			rc = brk_qos(br->brk, ch, (uint16_t)s->cfg->max_in_flight, err, errlen);
		if (rc == 0)
			rc = brk_consume(br->brk, ch, s->queue, s->queue, err, errlen);
		if (rc == 0) {
			s->channel = ch++;
			log_line(LOGL_INFO, "consuming", LOG_S("sub", s->cfg->name),
				 LOG_S("queue", s->queue),
				 LOG_I("max_in_flight", s->cfg->max_in_flight));
		}
	}
	return rc;
}

int bridge_open_session(struct bridge *br)
{
	const struct cfg *cfg = br->cfg;
	char err[BRK_ERR_MAX];
	int rc;

	br->broken = false;
	br->err[0] = '\0';
	rc = brk_connect(cfg->broker_url, cfg->heartbeat_s, cfg->ca_file, "hsbridge run", &br->brk,
			 err, sizeof(err));
	if (rc != 0)
		goto fail;
	log_msg(LOGL_INFO, "connected");
	rc = brk_channel_open(br->brk, PUB_CH, err, sizeof(err));
	if (rc == 0)
		rc = topo_declare(br->brk, PUB_CH, cfg, err, sizeof(err));
	if (rc == 0)
		rc = brk_confirm_select(br->brk, PUB_CH, err, sizeof(err));
	if (rc == 0)
		rc = start_consumers(br, err, sizeof(err));
	if (rc == 0) {
		log_line(LOGL_INFO, "ready", LOG_I("subscriptions", (long long)cfg->n_subs),
			 LOG_S("version", HSB_VERSION));
		return 0;
	}
fail:
	log_line(LOGL_ERROR, "broker", LOG_S("error", err));
	if (br->brk)
		bridge_drop_session(br);
	return rc == BRK_ERR_CHANNEL ? EX_CONFIG : EX_UNAVAILABLE;
}

/* Forgets everything tied to the connection: what is not acked goes back to
 * its queue on the broker's side when the connection closes. */
void bridge_drop_session(struct bridge *br)
{
	disp_cancel_all(br->disp, relay_on_http_done, br);
	dlv_hand_back_all(&br->dlv);
	dlv_reap(&br->dlv);
	brk_close(br->brk);
	br->brk = NULL;
	br->pub_seq = 0;
	br->blocked = false;
	for (size_t i = 0; i < br->cfg->n_subs; i++)
		br->subs[i].channel = 0;
}

void bridge_stop_consuming(struct bridge *br)
{
	for (size_t i = 0; br->brk && !br->broken && i < br->cfg->n_subs; i++) {
		if (br->subs[i].channel &&
		    brk_cancel(br->brk, br->subs[i].channel, br->subs[i].queue) != 0)
			bridge_mark_broken(br, "connection lost while cancelling consumers");
	}
}

/* Puts back what an operator deleted under a running bridge, so that the
 * refused copy finds its queue when it is published again. */
static void redeclare_topology(struct bridge *br)
{
	char err[BRK_ERR_MAX];

	br->redeclare = false;
	if (topo_declare(br->brk, PUB_CH, br->cfg, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "topology", LOG_S("error", err));
		bridge_mark_broken(br, "declaring the topology again failed");
	} else {
		log_line(LOGL_WARN, "topology", LOG_S("outcome", "declared again"));
	}
}

/* ------------------------------------------------------------- loop steps */

/* Acts on SIGTERM: stop consuming, let in-flight work finish until the
 * grace deadline. True when the loop is done. */
static bool step_stop(struct bridge *br)
{
	if (stop_requested && !br->stopping) {
		long t = br->cfg->timeout_ms;

		for (size_t i = 0; i < br->cfg->n_subs; i++) {
			if (br->cfg->subs[i].timeout_ms > t)
				t = br->cfg->subs[i].timeout_ms;
		}
		br->stopping = true;
		br->stop_deadline_ms = clk_mono_ms() + t + STOP_GRACE_MS;
		log_line(LOGL_INFO, "shutdown", LOG_S("phase", "stop consuming"),
			 LOG_I("in_flight", (long long)dlv_alive(&br->dlv)));
		bridge_stop_consuming(br);
	}
	if (!br->stopping)
		return false;
	return !br->brk || dlv_alive(&br->dlv) == 0 || clk_mono_ms() > br->stop_deadline_ms;
}

/* Acts on SIGHUP: stage a valid config, apply it once nothing is in flight. */
static void step_reload(struct bridge *br)
{
	if (br->stopping)
		return;
	if (reload_requested) {
		reload_requested = 0;
		reload_stage(br);
	}
	if (reload_ready(br)) {
		reload_apply(br);
		br->reconnect_at_ms = 0;
		br->backoff_ms = RECONNECT_MIN_MS;
	}
}

/* While disconnected, tries again with a doubling backoff. True when there
 * is a session to work with. */
static bool step_connect(struct bridge *br)
{
	if (br->brk)
		return true;
	if (clk_mono_ms() >= br->reconnect_at_ms) {
		log_msg(LOGL_WARN, "reconnecting");
		if (bridge_open_session(br) == 0) {
			reload_unbind_retired(br);
			br->backoff_ms = RECONNECT_MIN_MS;
			return true;
		}
		br->backoff_ms =
		    br->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : br->backoff_ms * 2;
		br->reconnect_at_ms = clk_mono_ms() + br->backoff_ms;
	}
	disp_wait(br->disp, NULL, 0, DISCONNECTED_WAIT_MS);
	return false;
}

static void on_broker_event(struct bridge *br, struct brk_event *ev)
{
	switch (ev->kind) {
	case BRK_DELIVERY:
		relay_on_delivery(br, ev);
		break;
	case BRK_CONFIRM:
		if (ev->channel == PUB_CH)
			relay_on_confirm(br, ev);
		break;
	case BRK_RETURN:
		if (ev->channel == PUB_CH)
			relay_on_return(br, ev);
		break;
	case BRK_BLOCKED:
		br->blocked = true;
		log_line(LOGL_WARN, "blocked", LOG_S("reason", ev->text),
			 LOG_S("effect", "retry/parked copies are held until the broker "
					 "unblocks the connection"));
		break;
	case BRK_UNBLOCKED:
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

/* Takes in what the broker sent, a bounded number of frames per turn. */
static void step_pump_broker(struct bridge *br)
{
	struct brk_event ev;
	char err[BRK_ERR_MAX];

	for (int i = 0; i < MAX_FRAMES_PER_TURN && !br->broken; i++) {
		if (brk_next(br->brk, &ev, err, sizeof(err)) != 0) {
			bridge_mark_broken(br, err);
			return;
		}
		if (ev.kind == BRK_NONE)
			break;
		on_broker_event(br, &ev);
		brk_event_clear(&ev);
	}
	if (br->redeclare && !br->broken)
		redeclare_topology(br);
}

/* A failed session: hand back what it held, and reconnect after a backoff.
 * True when the session was dropped. */
static bool step_recover(struct bridge *br)
{
	if (!br->broken)
		return false;
	log_line(LOGL_ERROR, "connection lost", LOG_S("error", br->err),
		 LOG_I("in_flight", (long long)dlv_alive(&br->dlv)));
	bridge_drop_session(br);
	br->reconnect_at_ms = clk_mono_ms() + br->backoff_ms;
	return true;
}

/* The one place the loop waits: transfers, the AMQP socket, the next held
 * copy, and half the heartbeat at most. */
static void step_wait(struct bridge *br)
{
	struct curl_waitfd wfd = {.fd = brk_fd(br->brk), .events = CURL_WAIT_POLLIN};
	int ms = 1000;

	if (br->cfg->heartbeat_s > 0 && br->cfg->heartbeat_s * 500 < ms)
		ms = br->cfg->heartbeat_s * 500;
	ms = relay_held_wait_ms(br, ms);
	/* Frames already read do not make the socket readable. */
	if (brk_buffered(br->brk))
		ms = 0;
	disp_wait(br->disp, &wfd, 1, ms);
}

int bridge_run(struct cfg **cfgp)
{
	struct bridge br;
	int rc;

	memset(&br, 0, sizeof(br));
	dlv_set_init(&br.dlv);
	br.backoff_ms = RECONNECT_MIN_MS;
	br.disp = disp_new();
	if (!br.disp || bridge_bind_config(&br, *cfgp) != 0) {
		rc = EX_TEMPFAIL; /* out of memory */
		goto out;
	}
	rc = bridge_open_session(&br);
	if (rc != 0)
		goto out;
	while (!step_stop(&br)) {
		step_reload(&br);
		if (!step_connect(&br))
			continue;
		step_pump_broker(&br);
		disp_collect(br.disp, relay_on_http_done, &br);
		relay_publish_held(&br);
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
	free(br.subs);
	return rc;
}
