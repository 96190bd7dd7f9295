/* bridge_reload: SIGHUP. A valid new config is staged, consumers are cancelled, and
 * once no delivery is alive the bridge reconnects with it. A config whose
 * topology the broker refuses is rejected like an invalid file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "bridge_int.h"
#include "hsbridge/log.h"
#include "hsbridge/topology.h"

/* A new config is valid: the next one to run once in-flight work is done.
 * An invalid one is logged and the running one stays. */
void reload_stage(struct bridge *br)
{
	struct cfg *next = NULL;
	char err[1024];

	if (cfg_load(br->cfg->path, &next, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "reload",
			 LOG_S("outcome", br->staged ? "rejected; the config accepted before it "
						       "still applies"
						     : "rejected; the running config stays"),
			 LOG_S("error", err));
		return;
	}
	for (size_t i = 0; i < next->n_warnings; i++)
		log_line(LOGL_WARN, "config", LOG_S("warning", next->warnings[i]));
	cfg_free(br->staged);
	br->staged = next;
	log_line(LOGL_INFO, "reload", LOG_S("outcome", "accepted; draining in-flight deliveries"),
		 LOG_I("in_flight", (long long)dlv_alive(&br->dlv)));
	bridge_stop_consuming(br);
}

/* Deliveries already read into rabbitmq-c's buffer are taken in before the
 * session closes (those still on the wire go back to their queue with the
 * connection). Held copies (an alarm, a full parked queue) are not waited
 * for: they are handed back, so that a reload does not stop every
 * subscription until an alarm clears or an operator makes room. */
bool reload_ready(const struct bridge *br)
{
	return br->staged && !(br->brk && brk_buffered(br->brk)) &&
	       (dlv_alive(&br->dlv) == 0 || bridge_only_stuck_copies(br)) && history_settled(br);
}

static bool has_pattern(const struct cfg_sub *s, const char *pattern)
{
	for (size_t i = 0; i < s->n_events; i++) {
		if (strcmp(s->events[i], pattern) == 0)
			return true;
	}
	return false;
}

/* Unbinds the patterns of old subscription os that the running config no
 * longer binds to the same queue. False when the broker refused one. */
static bool unbind_sub(struct bridge *br, const struct cfg *old, const struct cfg_sub *os)
{
	const struct cfg *now = br->cfg;
	const struct cfg_sub *ns = cfg_find_sub(now, os->name);
	bool same_place = ns && strcmp(old->prefix, now->prefix) == 0 &&
			  strcmp(old->exchange, now->exchange) == 0;
	char queue[BRK_NAME_MAX];
	char err[BRK_ERR_MAX];

	topo_sub_queue(old, os->name, queue, sizeof(queue));
	for (size_t j = 0; j < os->n_events && !br->broken; j++) {
		if (same_place && ns->active && has_pattern(ns, os->events[j]))
			continue;
		if (brk_bind(br->brk, CTL_CH, queue, old->exchange, os->events[j], false, err,
			     sizeof(err)) != 0) {
			log_line(LOGL_ERROR, "unbind", LOG_S("queue", queue),
				 LOG_S("pattern", os->events[j]), LOG_S("error", err));
			/* Start over, and try the unbinding again with the
			 * next session. */
			bridge_mark_broken(br, "unbinding after a reload failed");
			return false;
		}
		log_line(LOGL_INFO, "unbind", LOG_S("queue", queue),
			 LOG_S("pattern", os->events[j]));
	}
	return true;
}

/* Declaring binds what the config lists but cannot unbind what it no longer
 * lists (AMQP cannot list bindings): after a reload, unbind what the
 * previous config bound and the new one does not want, including the
 * patterns of removed subscriptions, whose queues are kept. */
void reload_unbind_retired(struct bridge *br)
{
	const struct cfg *old = br->retired;
	bool all = true;

	if (!old)
		return;
	for (size_t i = 0; i < old->n_subs && !br->broken; i++) {
		if (old->subs[i].active && !unbind_sub(br, old, &old->subs[i]))
			all = false;
	}
	if (all && !br->broken) {
		cfg_free(br->retired);
		br->retired = NULL;
	}
}

/* Swaps in the staged config: nothing borrows the running one any more. */
void reload_apply(struct bridge *br)
{
	struct cfg *old = br->cfg;
	struct cfg *next = br->staged;
	int rc;

	br->staged = NULL;
	if (br->brk)
		bridge_drop_session(br);
	if (bridge_bind_config(br, next) != 0) {
		cfg_free(next);
		return;
	}
	rc = bridge_open_session(br);
	if (rc == EX_CONFIG && bridge_bind_config(br, old) == 0) {
		log_line(LOGL_ERROR, "reload",
			 LOG_S("outcome", "rejected; the running config stays"),
			 LOG_S("error", "the broker refused the new config's topology (see the "
					"broker line before this one)"));
		cfg_free(next);
		return;
	}
	/* Keep the oldest config not yet unbound: a config that never had a
	 * session bound nothing. */
	if (br->retired)
		cfg_free(old);
	else
		br->retired = old;
	log_line(LOGL_INFO, "reload", LOG_S("outcome", "applied"),
		 LOG_I("subscriptions", (long long)br->cfg->n_subs));
	figures_reconf(br);
	if (rc == 0)
		reload_unbind_retired(br);
}
