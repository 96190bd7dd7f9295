/* bridge_breaker: each subscription's circuit breaker (breaker.h) made
 * real on the broker. Open: its consumer is cancelled (basic.cancel, not
 * awaited); its queue and bindings stay, so new events and returning retry
 * copies wait Ready in hsbridge.<sub>, and deliveries already in flight
 * finish through the normal retry/park path. Half-open: once the cool-down
 * is over and nothing of the subscription is in flight, it consumes again
 * with prefetch 1, so exactly one message goes out as the probe. The
 * probe's 2xx closes it: the consumer starts again at max_in_flight. Its
 * failure cancels the consumer before the probe's original is acked (that
 * waits for its retry copy's confirm), and the breaker reopens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_int.h"
#include "hsbridge/clock.h"
#include "hsbridge/log.h"

int breakers_consume(struct bridge *br, struct dlv_sub *s, char *err, size_t errlen)
{
	int prefetch = breaker_prefetch(&s->breaker, relay_prefetch(s));
	char cooldown[32];
	int rc;

	if (prefetch == 0) {
		cfg_format_duration(s->breaker.cooldown_ms, cooldown, sizeof(cooldown));
		log_line(LOGL_WARN, "breaker", LOG_S("state", "open"), LOG_S("sub", s->cfg->name),
			 LOG_S("reason", "still open: no consumer until its cool-down is over"),
			 LOG_I("failures", s->breaker.failures), LOG_S("cooldown", cooldown),
			 LOG_I("cooldown_left_ms", breaker_wait_ms(&s->breaker, clk_mono_ms())));
		return 0;
	}
	rc = brk_qos(br->brk, s->channel, (uint16_t)prefetch, err, errlen);
	if (rc == 0)
		rc = brk_consume(br->brk, s->channel, s->queue, s->queue, err, errlen);
	if (rc != 0)
		return rc;
	s->prefetch = (uint16_t)prefetch;
	log_line(LOGL_INFO, "consuming", LOG_S("sub", s->cfg->name), LOG_S("queue", s->queue),
		 LOG_I("max_in_flight", prefetch));
	return 0;
}

void breakers_cancel(struct bridge *br, struct dlv_sub *s)
{
	if (s->prefetch && br->brk && !br->broken && brk_cancel(br->brk, s->channel, s->queue) != 0)
		bridge_mark_broken(br, "connection lost while cancelling a consumer");
	s->prefetch = 0;
}

void breakers_on_post(struct delivery *d)
{
	d->probe = breaker_take_probe(&d->sub->breaker);
}

/* What went wrong, for the log: "HTTP 503" or curl's error. */
static void answer_text(const struct disp_result *res, char *buf, size_t len)
{
	if (res->status != 0)
		snprintf(buf, len, "HTTP %d", res->status);
	else
		snprintf(buf, len, "no response: %s", res->error[0] ? res->error : "(no error text)");
}

static void log_change(const struct dlv_sub *s, enum breaker_state was,
		       const struct disp_result *res)
{
	const struct breaker *b = &s->breaker;
	char what[CURL_ERROR_SIZE + 32];
	char reason[CURL_ERROR_SIZE + 128];
	char cooldown[32];

	answer_text(res, what, sizeof(what));
	/* Closed: the cool-down the next opening starts from. */
	cfg_format_duration(b->state == BREAKER_CLOSED ? s->cfg->breaker.cooldown_ms : b->cooldown_ms,
			    cooldown, sizeof(cooldown));
	if (b->state == BREAKER_CLOSED) {
		snprintf(reason, sizeof(reason), "the probe was delivered (%s)", what);
		log_line(LOGL_INFO, "breaker", LOG_S("state", "closed"), LOG_S("sub", s->cfg->name),
			 LOG_S("reason", reason), LOG_I("failures", 0), LOG_S("cooldown", cooldown),
			 LOG_I("max_in_flight", relay_prefetch(s)));
		return;
	}
	if (was == BREAKER_HALF_OPEN)
		snprintf(reason, sizeof(reason), "the probe failed (%s)", what);
	else if (res->status == 410)
		snprintf(reason, sizeof(reason),
			 "HTTP 410 Gone: the endpoint asks to stop sending");
	else
		snprintf(reason, sizeof(reason), "%d endpoint failures in a row, the last: %s",
			 b->failures, what);
	log_line(LOGL_WARN, "breaker", LOG_S("state", "open"), LOG_S("sub", s->cfg->name),
		 LOG_S("reason", reason), LOG_I("failures", b->failures),
		 LOG_S("cooldown", cooldown),
		 LOG_I("probe_in_ms", breaker_wait_ms(b, clk_mono_ms())),
		 LOG_S("effect", "consumer cancelled: new events and retries wait in the queue"),
		 LOG_S("queue", s->queue));
}

bool breakers_on_answer(struct bridge *br, struct delivery *d, const struct disp_result *res,
			bool last)
{
	struct dlv_sub *s = d->sub;
	enum breaker_state was = s->breaker.state;
	bool up_before = s->breaker.up;
	enum breaker_verdict v;
	enum breaker_change change;

	/* No answer to judge: the session ended, or the guard refused the
	 * address (a config matter, not the endpoint's health). */
	if (!res || res->address_refused) {
		if (d->probe)
			breaker_probe_lost(&s->breaker);
		return false;
	}
	v = breaker_verdict_of(res->status);
	/* The jitter's random value: rand() is seeded per process (bridge.c). */
	change = breaker_answer(&s->breaker, &s->cfg->breaker, v, d->probe, clk_mono_ms(),
				(double)rand() / (double)RAND_MAX);
	if (change == BREAKER_OPENED) {
		breakers_cancel(br, s);
		figures_breaker_opened(s);
	}
	if (change != BREAKER_SAME)
		log_change(s, was, res);
	/* A 429 without Retry-After says "slow down", not "this event is
	 * bad": with a breaker to pace the endpoint, it counts there only. */
	return breaker_spares(&s->cfg->breaker, v, up_before, &s->breaker, last) ||
	       (s->cfg->breaker.enabled && pol_throttled(res->status, res->retry_after_ms));
}

/* Nothing of s is in flight: the probe will be the only delivery. */
static bool drained(const struct bridge *br, const struct dlv_sub *s)
{
	static const enum dlv_state alive[] = {DLV_RECEIVED, DLV_POSTING, DLV_HELD,
					       DLV_CONFIRMING};

	for (size_t i = 0; i < sizeof(alive) / sizeof(alive[0]); i++) {
		for (const struct delivery *d = br->dlv.head[alive[i]]; d; d = d->next) {
			if (d->sub == s)
				return false;
		}
	}
	return true;
}

static void half_open(struct dlv_sub *s)
{
	char cooldown[32];

	breaker_half_open(&s->breaker);
	cfg_format_duration(s->breaker.cooldown_ms, cooldown, sizeof(cooldown));
	log_line(LOGL_INFO, "breaker", LOG_S("state", "half_open"), LOG_S("sub", s->cfg->name),
		 LOG_S("reason", "the cool-down is over: one message goes out as a probe"),
		 LOG_I("failures", s->breaker.failures), LOG_S("cooldown", cooldown));
}

void breakers_step(struct bridge *br)
{
	long long now = clk_mono_ms();
	char err[BRK_ERR_MAX];

	/* Stopping or reloading: consumers stay cancelled. */
	if (!br->brk || br->broken || br->stopping || br->staged)
		return;
	for (size_t i = 0; i < br->cfg->n_subs && !br->broken; i++) {
		struct dlv_sub *s = &br->subs[i];

		if (!s->channel)
			continue;
		if (breaker_due(&s->breaker, now) && drained(br, s))
			half_open(s);
		if (breaker_prefetch(&s->breaker, relay_prefetch(s)) == s->prefetch)
			continue;
		/* A new prefetch applies to a new consumer only: cancel, then
		 * consume again (the broker takes the two in order). */
		breakers_cancel(br, s);
		if (!br->broken && breakers_consume(br, s, err, sizeof(err)) != 0) {
			log_line(LOGL_ERROR, "broker", LOG_S("sub", s->cfg->name),
				 LOG_S("error", err));
			bridge_mark_broken(br, "starting a consumer again failed");
		}
	}
}

int breakers_wait_ms(const struct bridge *br, int max_ms)
{
	long long now = clk_mono_ms();
	int ms = max_ms;

	for (size_t i = 0; br->brk && i < br->cfg->n_subs; i++) {
		long long left = breaker_wait_ms(&br->subs[i].breaker, now);

		/* 0: due, and waiting for its deliveries, whose ends wake the loop. */
		if (left > 0 && left < ms)
			ms = (int)left;
	}
	return ms;
}

void breakers_carry_over(const struct bridge *br, struct dlv_sub *subs, const struct cfg *cfg)
{
	long long now = clk_mono_ms();

	for (size_t i = 0; i < cfg->n_subs; i++) {
		const struct cfg_sub *ns = &cfg->subs[i];

		breaker_init(&subs[i].breaker);
		for (size_t j = 0; br->cfg && br->subs && j < br->cfg->n_subs; j++) {
			const struct dlv_sub *os = &br->subs[j];

			if (ns->breaker.enabled && strcmp(os->cfg->name, ns->name) == 0 &&
			    strcmp(os->cfg->url, ns->url) == 0) {
				subs[i].breaker = os->breaker;
				breaker_probe_lost(&subs[i].breaker);
				/* A shorter max_cooldown applies to a breaker open now. */
				breaker_reconf(&subs[i].breaker, &ns->breaker, now);
			}
		}
	}
}
