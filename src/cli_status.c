/* cli_status: `status` and `status --json`. The figures are read once (the
 * ready and consumer counts over AMQP, exact; the unacked counts and the
 * orphaned queues from the management API, which lags) and then written
 * either as text or as one JSON document: the two cannot disagree. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <yajl/yajl_gen.h>

#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/mgmt.h"
#include "hsbridge/redact.h"
#include "hsbridge/topology.h"
#include "hsbridge/utf8.h"

#include "cli_int.h"

/* One queue the config names. */
struct st_queue {
	char name[BRK_NAME_MAX];
	bool exists;		    /* false: not declared (yet), no counts */
	uint32_t ready;		    /* over AMQP (queue.declare, passive) */
	uint32_t consumers;	    /* likewise */
	const struct mgmt_queue *m; /* its management API entry, or NULL */
};

/* Everything status shows. queues: each subscription's queue and parked
 * queue (2 i and 2 i + 1), then the retry queues (2 n_subs + j). */
struct st_report {
	const struct cfg *cfg;
	struct st_queue *queues;
	struct mgmt_queue *mq; /* every queue of the vhost, when mgmt_ok */
	size_t n_mq;
	bool mgmt_ok;
	char mgmt_url[512]; /* without credentials */
	char mgmt_err[256]; /* why the management API did not answer (no credentials) */
};

#define SUB_QUEUE(r, i) (&(r)->queues[2 * (i)])
#define SUB_PARKED(r, i) (&(r)->queues[2 * (i) + 1])
#define RETRY_QUEUE(r, j) (&(r)->queues[2 * (r)->cfg->n_subs + (j)])

/* Reads one queue's counts; a missing queue is a fact, not an error.
 * Returns 0, or a broker error after saying it on stderr. */
static int read_queue(struct brk *b, const struct st_report *r, struct st_queue *q)
{
	char err[BRK_ERR_MAX];
	int rc = brk_queue_counts(b, 1, q->name, &q->ready, &q->consumers, err, sizeof(err));

	if (rc == BRK_ERR_CHANNEL)
		return 0;
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return rc;
	}
	q->exists = true;
	q->m = r->mgmt_ok ? mgmt_find(r->mq, r->n_mq, q->name) : NULL;
	return 0;
}

/* EX_OK, EX_UNAVAILABLE (said on stderr) or EX_TEMPFAIL. */
static int read_report(struct brk *b, const char *broker_url, struct st_report *r)
{
	const struct cfg *cfg = r->cfg;
	char base[512];
	int rc = 0;

	r->queues = calloc(2 * cfg->n_subs + cfg->n_delays + 1, sizeof(*r->queues));
	if (!r->queues) {
		fprintf(stderr, "hsbridge: out of memory\n");
		return EX_TEMPFAIL;
	}
	/* The management API of the node that answered, with its URL's user. */
	r->mgmt_ok = mgmt_list_queues(cfg, broker_url, &r->mq, &r->n_mq, r->mgmt_err,
				      sizeof(r->mgmt_err)) == 0;
	mgmt_base_url(cfg, broker_url, base, sizeof(base));
	redact_url(base, r->mgmt_url, sizeof(r->mgmt_url));
	for (size_t i = 0; i < cfg->n_subs; i++) {
		topo_sub_queue(cfg, cfg->subs[i].name, SUB_QUEUE(r, i)->name, BRK_NAME_MAX);
		topo_parked_queue(cfg, cfg->subs[i].name, SUB_PARKED(r, i)->name, BRK_NAME_MAX);
	}
	for (size_t j = 0; j < cfg->n_delays; j++)
		topo_retry_name(cfg, j, RETRY_QUEUE(r, j)->name, BRK_NAME_MAX);
	for (size_t k = 0; rc == 0 && k < 2 * cfg->n_subs + cfg->n_delays; k++)
		rc = read_queue(b, r, &r->queues[k]);
	return rc == 0 ? EX_OK : EX_UNAVAILABLE;
}

/* Whether name is a queue this config declares. */
static bool configured_queue(const struct st_report *r, const char *name)
{
	for (size_t k = 0; k < 2 * r->cfg->n_subs + r->cfg->n_delays; k++) {
		if (strcmp(r->queues[k].name, name) == 0)
			return true;
	}
	return false;
}

/* A queue under the prefix that the config no longer names: a subscription
 * removed from it, or a delay dropped from the schedule. */
static bool orphan(const struct st_report *r, const struct mgmt_queue *m)
{
	size_t plen = strlen(r->cfg->prefix);
	char attempts[BRK_NAME_MAX];

	/* The history stream is the bridge's own, declared or not. */
	topo_attempts_queue(r->cfg, attempts, sizeof(attempts));
	return strncmp(m->name, r->cfg->prefix, plen) == 0 && m->name[plen] == '.' &&
	       strcmp(m->name, attempts) != 0 && !configured_queue(r, m->name);
}

/* ------------------------------------------------------------------ text */

/* A missing queue is said, not fatal. A parked queue with a length limit
 * says it, and once the limit is reached, what waits. (RabbitMQ 3.10's
 * quorum queues refuse only once over the limit: they take one message
 * past it.) */
static void print_queue(const char *label, const struct st_queue *q, bool consumers, long limit)
{
	if (!q->exists)
		printf("  %-8s %s: missing (run hsbridge topology)", label, q->name);
	else if (consumers && q->m)
		printf("  %-8s %s: %u ready, %lld unacked, %u consumers", label, q->name, q->ready,
		       q->m->unacked, q->consumers);
	else if (consumers)
		printf("  %-8s %s: %u ready, %u consumers", label, q->name, q->ready, q->consumers);
	else if (limit > 0 && q->ready >= (unsigned long)limit)
		printf("  %-8s %s: %u (limit %ld reached: new parked copies wait, their "
		       "originals stay unacked in the queue above)",
		       label, q->name, q->ready, limit);
	else if (limit > 0)
		printf("  %-8s %s: %u (limit %ld)", label, q->name, q->ready, limit);
	else
		printf("  %-8s %s: %u", label, q->name, q->ready);
	/* Dead letters its target has not confirmed yet (a missing or full
	 * target, a lost node): in the queue, but not Ready. */
	if (q->exists && q->m && q->m->dlx > 0)
		printf(", %lld being dead-lettered", q->m->dlx);
	putchar('\n');
}

static void print_text(const struct st_report *r)
{
	const struct cfg *cfg = r->cfg;
	bool header = false;
	char name[4 * 256 + 1]; /* a queue name or an error, escaped */

	for (size_t i = 0; i < cfg->n_subs; i++) {
		printf("%s (%s)\n", cfg->subs[i].name, cfg->subs[i].active ? "active" : "inactive");
		print_queue("queue", SUB_QUEUE(r, i), true, 0);
		print_queue("parked", SUB_PARKED(r, i), false, cfg->subs[i].parked_max_length);
	}
	if (cfg->n_delays)
		printf("retry queues (all subscriptions)\n");
	for (size_t j = 0; j < cfg->n_delays; j++)
		print_queue("waiting", RETRY_QUEUE(r, j), false, 0);
	if (!r->mgmt_ok) {
		(void)redact_controls(r->mgmt_err, strlen(r->mgmt_err), name, sizeof(name));
		printf("(no unacked counts or orphaned queues: the management API at %s did not "
		       "answer: %s; set broker.management_url)\n",
		       r->mgmt_url, name);
		return;
	}
	for (size_t i = 0; i < r->n_mq; i++) {
		const struct mgmt_queue *m = &r->mq[i];

		if (!orphan(r, m))
			continue;
		if (!header)
			printf("orphaned (not in the config; kept, delete by hand once drained)\n");
		header = true;
		/* Any broker user may name a queue: its name reaches a terminal. */
		(void)redact_controls(m->name, strlen(m->name), name, sizeof(name));
		printf("  %-8s %s: %lld ready, %lld unacked, %lld consumers\n", "orphan", name,
		       m->ready, m->unacked, m->consumers);
	}
}

/* ------------------------------------------------------------------ JSON */

/* Every string is valid UTF-8 (a queue name from the management API may
 * not be): bad bytes become U+FFFD. yajl escapes control characters. */
static void gen_str(yajl_gen g, const char *s)
{
	char clean[3 * 512 + 1];
	size_t len = strlen(s);

	if (len >= 512 || !utf8_valid(s, len, NULL))
		len = utf8_sanitize(s, len < 512 ? len : 511, clean, sizeof(clean));
	else
		memcpy(clean, s, len + 1);
	yajl_gen_string(g, (const unsigned char *)clean, len);
}

static void gen_key_str(yajl_gen g, const char *key, const char *value)
{
	gen_str(g, key);
	if (value)
		gen_str(g, value);
	else
		yajl_gen_null(g);
}

/* An integer, or null when known is false. */
static void gen_key_int(yajl_gen g, const char *key, bool known, long long value)
{
	gen_str(g, key);
	if (known)
		yajl_gen_integer(g, value);
	else
		yajl_gen_null(g);
}

static void gen_key_bool(yajl_gen g, const char *key, bool value)
{
	gen_str(g, key);
	yajl_gen_bool(g, value);
}

/* [key:] {"name", "exists", then "ready", "unacked", "consumers" for a
 * subscription queue, "messages" for the others, "dead_lettering" (taken
 * by dead-lettering, not yet confirmed), and for a parked queue "limit",
 * "limit_reached"}: null for what is not known. */
static void gen_queue(yajl_gen g, const char *key, const struct st_queue *q, bool consumers,
		      bool parked, long limit)
{
	if (key)
		gen_str(g, key);
	yajl_gen_map_open(g);
	gen_key_str(g, "name", q->name);
	gen_key_bool(g, "exists", q->exists);
	gen_key_int(g, consumers ? "ready" : "messages", q->exists, q->ready);
	if (consumers) {
		gen_key_int(g, "unacked", q->m != NULL, q->m ? q->m->unacked : 0);
		gen_key_int(g, "consumers", q->exists, q->consumers);
	}
	gen_key_int(g, "dead_lettering", q->exists && q->m != NULL, q->m ? q->m->dlx : 0);
	if (parked) {
		gen_key_int(g, "limit", limit > 0, limit);
		gen_key_bool(g, "limit_reached",
			     q->exists && limit > 0 && q->ready >= (unsigned long)limit);
	}
	yajl_gen_map_close(g);
}

static void gen_subscriptions(yajl_gen g, const struct st_report *r)
{
	gen_str(g, "subscriptions");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->cfg->n_subs; i++) {
		const struct cfg_sub *s = &r->cfg->subs[i];

		yajl_gen_map_open(g);
		gen_key_str(g, "name", s->name);
		gen_key_bool(g, "active", s->active);
		gen_queue(g, "queue", SUB_QUEUE(r, i), true, false, 0);
		gen_queue(g, "parked", SUB_PARKED(r, i), false, true, s->parked_max_length);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/* "orphans": null when the management API did not answer (unknown). */
static void gen_orphans(yajl_gen g, const struct st_report *r)
{
	gen_str(g, "orphans");
	if (!r->mgmt_ok) {
		yajl_gen_null(g);
		return;
	}
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_mq; i++) {
		const struct mgmt_queue *m = &r->mq[i];

		if (!orphan(r, m))
			continue;
		yajl_gen_map_open(g);
		gen_key_str(g, "name", m->name);
		gen_key_int(g, "ready", true, m->ready);
		gen_key_int(g, "unacked", true, m->unacked);
		gen_key_int(g, "consumers", true, m->consumers);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

static int print_json(const struct st_report *r)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	size_t len;
	int rc = EX_TEMPFAIL;

	if (!g || !yajl_gen_config(g, yajl_gen_beautify, 1) ||
	    !yajl_gen_config(g, yajl_gen_indent_string, "  "))
		goto out;
	yajl_gen_map_open(g);
	gen_subscriptions(g, r);
	gen_str(g, "retry_queues");
	yajl_gen_array_open(g);
	for (size_t j = 0; j < r->cfg->n_delays; j++)
		gen_queue(g, NULL, RETRY_QUEUE(r, j), false, false, 0);
	yajl_gen_array_close(g);
	gen_orphans(g, r);
	gen_str(g, "management");
	yajl_gen_map_open(g);
	gen_key_str(g, "url", r->mgmt_url);
	gen_key_bool(g, "answered", r->mgmt_ok);
	gen_key_str(g, "error", r->mgmt_ok ? NULL : r->mgmt_err);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok) {
		fwrite(out, 1, len, stdout);
		rc = EX_OK;
	}
out:
	if (rc != EX_OK)
		fprintf(stderr, "hsbridge: out of memory\n");
	if (g)
		yajl_gen_free(g);
	return rc;
}

int cli_cmd_status(struct cfg **cfgp, const struct cli_args *a)
{
	struct st_report r = {.cfg = *cfgp};
	struct brk *b = NULL;
	size_t node = 0;
	int rc = cli_connect_channel(r.cfg, "hsbridge status", false, &b, &node);

	if (rc != EX_OK)
		return rc;
	rc = read_report(b, r.cfg->broker_urls[node], &r);
	brk_close(b);
	if (rc == EX_OK && a->json)
		rc = print_json(&r);
	else if (rc == EX_OK)
		print_text(&r);
	mgmt_free_queues(r.mq, r.n_mq);
	free(r.queues);
	return rc;
}
