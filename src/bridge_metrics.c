/* bridge_metrics: the bridge's figures (prom.h) and its metrics.listen
 * listener (metrics.h). Counters move where the relay decides (one call
 * each); gauges are read from the bridge's state when a scrape asks, inside
 * metrics_run, between two steps of the loop: nothing else runs then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_int.h"
#include "hsbridge/log.h"

/* The reasons the bridge itself parks for, shown at 0 from the start.
 * (delivery_limit is the broker's dead-lettering: not the bridge's.) */
static const enum pol_reason own_reasons[] = {POL_REASON_RETRIES_EXHAUSTED, POL_REASON_GONE,
					      POL_REASON_INVALID_PAYLOAD,
					      POL_REASON_PAYLOAD_TOO_LARGE,
					      POL_REASON_ADDRESS_NOT_ALLOWED};

static const char *not_ready(void *arg)
{
	const struct bridge *br = arg;

	if (br->stopping)
		return "stopping";
	if (!br->brk || br->broken)
		return "disconnected";
	if (br->staged)
		return "reloading";
	return NULL;
}

static void count_alive(struct bridge *br)
{
	static const enum dlv_state alive[] = {DLV_RECEIVED, DLV_POSTING, DLV_HELD,
					       DLV_CONFIRMING};

	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		struct prom_sub *p = br->subs[i].prom;

		p->in_flight = p->copies_held = p->copies_unconfirmed = 0;
		p->breaker = br->subs[i].breaker.state == BREAKER_OPEN	    ? PROM_BREAKER_OPEN
			     : br->subs[i].breaker.state == BREAKER_HALF_OPEN ? PROM_BREAKER_HALF_OPEN
									      : PROM_BREAKER_CLOSED;
	}
	for (size_t k = 0; k < sizeof(alive) / sizeof(alive[0]); k++) {
		for (const struct delivery *d = br->dlv.head[alive[k]]; d; d = d->next) {
			struct prom_sub *p = d->sub->prom;

			p->in_flight++;
			if (alive[k] == DLV_HELD)
				p->copies_held++;
			else if (alive[k] == DLV_CONFIRMING)
				p->copies_unconfirmed++;
		}
	}
}

static int render(void *arg, char **body, size_t *len)
{
	struct bridge *br = arg;

	br->prom.connected = br->brk && !br->broken;
	br->prom.copies_connected = br->pub && !br->pub_broken;
	br->prom.ready = not_ready(br) == NULL;
	count_alive(br);
	return prom_render(&br->prom, body, len);
}

static int listen_on(struct bridge *br, const char *listen)
{
	struct metrics_pages pages = {.render = render, .not_ready = not_ready, .arg = br};
	char err[256];

	if (metrics_start(listen, &pages, &br->http, err, sizeof(err)) != 0) {
		log_line(LOGL_ERROR, "metrics", LOG_S("error", err));
		return -1;
	}
	log_line(LOGL_INFO, "metrics listening", LOG_S("listen", metrics_bound(br->http)),
		 LOG_S("paths", "/metrics /healthz /readyz"));
	return 0;
}

int figures_start(struct bridge *br)
{
	if (!br->cfg->metrics_listen)
		return 0;
	return listen_on(br, br->cfg->metrics_listen);
}

void figures_stop(struct bridge *br)
{
	metrics_stop(br->http);
	br->http = NULL;
}

/* An unchanged listen keeps its socket and connections. A changed one is
 * closed first (the new address may be the old port on another host),
 * then bound; when that fails the old one is bound again. */
void figures_reconf(struct bridge *br)
{
	const char *want = br->cfg->metrics_listen;
	char *had = NULL;

	if (br->http ? want && strcmp(metrics_listen(br->http), want) == 0 : !want)
		return;
	if (br->http) {
		had = strdup(metrics_listen(br->http));
		log_line(LOGL_INFO, "metrics closed", LOG_S("listen", metrics_bound(br->http)));
		figures_stop(br);
	}
	if (want && listen_on(br, want) != 0 && had && listen_on(br, had) == 0)
		log_line(LOGL_WARN, "metrics",
			 LOG_S("error", "the new metrics.listen cannot be bound: the previous "
					"address is served until a reload or restart"));
	free(had);
}

int figures_bind(struct bridge *br, struct dlv_sub *subs, const struct cfg *cfg)
{
	const char **names = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof(*names));
	int rc = -1;

	if (!names)
		return -1;
	for (size_t i = 0; i < cfg->n_subs; i++)
		names[i] = cfg->subs[i].name;
	if (prom_bind(&br->prom, names, cfg->n_subs) == 0) {
		for (size_t i = 0; i < cfg->n_subs; i++) {
			subs[i].prom = prom_sub_at(&br->prom, i);
			for (size_t k = 0; k < sizeof(own_reasons) / sizeof(own_reasons[0]); k++)
				prom_reason_known(subs[i].prom, pol_reason_name(own_reasons[k]));
		}
		rc = 0;
	}
	free(names);
	return rc;
}

int figures_wait(struct bridge *br, struct curl_waitfd *extra, unsigned n_extra, int timeout_ms)
{
	struct curl_waitfd all[4];
	unsigned n = 0;
	int fd;
	int rc;

	for (; n < n_extra && n < 3; n++)
		all[n] = extra[n];
	fd = metrics_wait_fd(br->http, &timeout_ms);
	if (fd >= 0)
		all[n++] = (struct curl_waitfd){.fd = fd, .events = CURL_WAIT_POLLIN};
	rc = disp_wait(br->disp, all, n, timeout_ms);
	for (unsigned i = 0; i < n_extra && i < 3; i++)
		extra[i].revents = all[i].revents;
	return rc;
}

void figures_serve(struct bridge *br)
{
	metrics_run(br->http);
}

void figures_attempt(const struct delivery *d, enum pol_action act, const struct disp_result *res)
{
	enum prom_outcome o = d->state == DLV_HANDED_BACK ? PROM_NO_OUTCOME
			      : act == POL_ACK		  ? PROM_DELIVERED
			      : act == POL_RETRY	  ? PROM_RETRY
							  : PROM_PARKED;

	prom_attempt(d->sub->prom, o, res->status, res->ms, d->copy.reason);
}

void figures_parked(const struct delivery *d)
{
	prom_parked(d->sub->prom, d->copy.reason);
}

void figures_breaker_opened(const struct dlv_sub *s)
{
	if (s->prom)
		s->prom->breaker_opens++;
}

void figures_reconnected(struct bridge *br)
{
	br->prom.reconnects++;
}
