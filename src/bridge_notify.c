/* bridge_notify: the loop's figures for systemd (notify.h): consuming or
 * not, reloading, stopping, what is in flight and held, open breakers. */
#include "bridge_int.h"
#include "hsbridge/notify.h"

int bridge_notify(struct bridge *br, int max_ms)
{
	struct ntf_figures f = {
	    .connected = br->brk && !br->broken,
	    .retrying = !br->brk && br->failures > 0,
	    .reloading = br->staged != NULL,
	    .stopping = br->stopping,
	    .copies_down = br->brk && !br->pub,
	    .blocked = br->blocked,
	    .in_flight = dlv_alive(&br->dlv),
	    .held = br->dlv.count[DLV_HELD],
	};

	if (br->ntf.fd < 0)
		return max_ms; /* no NOTIFY_SOCKET: nothing to count */
	for (size_t i = 0; i < br->cfg->n_subs; i++) {
		if (br->subs[i].prefetch > 0)
			f.consuming++;
		if (br->subs[i].cfg->active && br->subs[i].breaker.state == BREAKER_OPEN)
			f.breakers_open++;
	}
	return ntf_tick(&br->ntf, &f, max_ms);
}
