/* prom: the figures and their Prometheus text exposition (format 0.0.4). */
#include "hsbridge/prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const long prom_bucket_ms[PROM_N_BUCKETS] = {5,	   10,	  25,	 50,	100,   250,    500,    1000,
					     2500, 5000, 10000, 20000, 30000, 60000, 120000, 300000};

static const char *const outcome_names[PROM_N_OUTCOMES] = {"delivered", "retry", "parked"};
static const char *const class_names[PROM_N_CLASSES] = {"1xx", "2xx",	"3xx",	"4xx",
							"5xx", "other", "error"};
static const char *const breaker_names[] = {"closed", "open", "half_open"};

void prom_init(struct prom *p, const char *version)
{
	memset(p, 0, sizeof(*p));
	p->version = version;
}

void prom_free(struct prom *p)
{
	for (size_t i = 0; i < p->n_subs; i++)
		free(p->subs[i]);
	free(p->subs);
	p->subs = NULL;
	p->n_subs = 0;
}

static struct prom_sub *find(const struct prom *p, const char *name)
{
	for (size_t i = 0; i < p->n_subs; i++) {
		if (strcmp(p->subs[i]->name, name) == 0)
			return p->subs[i];
	}
	return NULL;
}

static bool listed(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

int prom_bind(struct prom *p, const char *const *names, size_t n)
{
	struct prom_sub **subs = calloc(n ? n : 1, sizeof(*subs));
	bool *fresh = calloc(n ? n : 1, sizeof(*fresh));
	int rc = -1;
	size_t i;

	if (!subs || !fresh)
		goto out;
	for (i = 0; i < n; i++) {
		subs[i] = find(p, names[i]);
		if (!subs[i]) {
			subs[i] = calloc(1, sizeof(**subs));
			if (!subs[i])
				goto out;
			fresh[i] = true;
			snprintf(subs[i]->name, sizeof(subs[i]->name), "%s", names[i]);
		}
	}
	for (i = 0; i < p->n_subs; i++) {
		if (!listed(p->subs[i]->name, names, n))
			free(p->subs[i]);
	}
	free(p->subs);
	p->subs = subs;
	p->n_subs = n;
	subs = NULL;
	rc = 0;
out:
	for (i = 0; subs && i < n; i++) {
		if (fresh[i])
			free(subs[i]);
	}
	free(subs);
	free(fresh);
	return rc;
}

struct prom_sub *prom_sub_at(const struct prom *p, size_t i)
{
	return p->subs[i];
}

enum prom_class prom_class_of(int status)
{
	if (status == 0)
		return PROM_ERROR;
	if (status < 100 || status > 599)
		return PROM_OTHER;
	return (enum prom_class)(PROM_1XX + status / 100 - 1);
}

static struct prom_reason *reason_slot(struct prom_sub *s, const char *reason)
{
	for (size_t i = 0; i < s->n_reasons; i++) {
		if (strcmp(s->reasons[i].name, reason) == 0)
			return &s->reasons[i];
	}
	if (s->n_reasons == PROM_REASONS || strlen(reason) >= PROM_REASON_MAX)
		return NULL;
	snprintf(s->reasons[s->n_reasons].name, PROM_REASON_MAX, "%s", reason);
	return &s->reasons[s->n_reasons++];
}

void prom_reason_known(struct prom_sub *s, const char *reason)
{
	if (s && reason)
		(void)reason_slot(s, reason);
}

void prom_parked(struct prom_sub *s, const char *reason)
{
	struct prom_reason *r;

	if (!s)
		return;
	s->outcomes[PROM_PARKED]++;
	r = reason_slot(s, reason ? reason : "unknown");
	if (r)
		r->n++;
	else
		s->other_reasons++;
}

void prom_attempt(struct prom_sub *s, enum prom_outcome o, int status, long ms,
		  const char *reason)
{
	size_t b = 0;

	if (!s)
		return;
	if (ms < 0)
		ms = 0;
	s->classes[prom_class_of(status)]++;
	s->attempts++;
	s->ms_sum += (uint64_t)ms;
	while (b < PROM_N_BUCKETS && ms > prom_bucket_ms[b])
		b++;
	if (b < PROM_N_BUCKETS)
		s->buckets[b]++;
	if (o == PROM_PARKED)
		prom_parked(s, reason);
	else if (o < PROM_N_OUTCOMES)
		s->outcomes[o]++;
}

size_t prom_escape_label(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		char one[2] = {*s, '\0'};

		for (const char *c = esc ? esc : one; *c; c++, n++) {
			if (n + 1 < len)
				buf[n] = *c;
		}
	}
	if (len)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

/* ------------------------------------------------------------- rendering */

/* The exposition being written; a failed allocation sticks (oom). */
struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (o->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if (o->buf && o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap ? o->cap * 2 : 4096;

		while (cap <= o->len + (size_t)n)
			cap *= 2;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The sub="…" label of s, escaped. */
static const char *sub_label(const struct prom_sub *s, char buf[PROM_NAME_MAX * 2 + 1])
{
	(void)prom_escape_label(s->name, buf, PROM_NAME_MAX * 2 + 1);
	return buf;
}

/* One family with one sample per subscription: value(s). */
static void per_sub(struct out *o, const struct prom *p, const char *name, const char *type,
		    const char *help, unsigned long long (*value)(const struct prom_sub *))
{
	char l[PROM_NAME_MAX * 2 + 1];

	family(o, name, type, help);
	for (size_t i = 0; i < p->n_subs; i++)
		put(o, "%s{sub=\"%s\"} %llu\n", name, sub_label(p->subs[i], l), value(p->subs[i]));
}

static unsigned long long in_flight(const struct prom_sub *s)
{
	return s->in_flight > 0 ? (unsigned long long)s->in_flight : 0;
}

static unsigned long long held(const struct prom_sub *s)
{
	return s->copies_held > 0 ? (unsigned long long)s->copies_held : 0;
}

static unsigned long long unconfirmed(const struct prom_sub *s)
{
	return s->copies_unconfirmed > 0 ? (unsigned long long)s->copies_unconfirmed : 0;
}

static unsigned long long opens(const struct prom_sub *s)
{
	return s->breaker_opens;
}

static void render_broker(struct out *o, const struct prom *p)
{
	char v[PROM_NAME_MAX * 2 + 1];

	(void)prom_escape_label(p->version ? p->version : "", v, sizeof(v));
	family(o, "hsbridge_build_info", "gauge", "The running hsbridge's version (always 1).");
	put(o, "hsbridge_build_info{version=\"%s\"} 1\n", v);
	family(o, "hsbridge_ready", "gauge",
	       "1 while connected and consuming (GET /readyz answers 200), else 0.");
	put(o, "hsbridge_ready %d\n", p->ready ? 1 : 0);
	family(o, "hsbridge_broker_connected", "gauge",
	       "1 while the connection to the broker is up, per connection: consuming (events "
	       "in, acks) and copies (retry and parked copies out).");
	put(o, "hsbridge_broker_connected{connection=\"consuming\"} %d\n", p->connected ? 1 : 0);
	put(o, "hsbridge_broker_connected{connection=\"copies\"} %d\n", p->copies_connected ? 1 : 0);
	family(o, "hsbridge_broker_reconnects_total", "counter",
	       "Times the consuming connection came back after it was lost or refused.");
	put(o, "hsbridge_broker_reconnects_total %llu\n", (unsigned long long)p->reconnects);
}

static void render_history(struct out *o, const struct prom *p)
{
	static const char *const drops[PROM_HIST_N_DROPS] = {"buffer_full", "refused",
							     "unroutable", "unconfirmed"};

	family(o, "hsbridge_history_written_total", "counter",
	       "Attempt records the broker confirmed into the history stream.");
	put(o, "hsbridge_history_written_total %llu\n", (unsigned long long)p->history_written);
	family(o, "hsbridge_history_dropped_total", "counter",
	       "Attempt records dropped (deliveries never wait for them), by reason.");
	for (int k = 0; k < PROM_HIST_N_DROPS; k++)
		put(o, "hsbridge_history_dropped_total{reason=\"%s\"} %llu\n", drops[k],
		    (unsigned long long)p->history_dropped[k]);
	family(o, "hsbridge_history_buffered", "gauge",
	       "Attempt records waiting to be published or confirmed (bounded).");
	put(o, "hsbridge_history_buffered %ld\n", p->history_buffered);
}

static void render_outcomes(struct out *o, const struct prom *p)
{
	char l[PROM_NAME_MAX * 2 + 1];
	char r[PROM_REASON_MAX * 2];

	family(o, "hsbridge_deliveries_total", "counter",
	       "Outcomes decided: an attempt delivered (2xx), to be retried, or parked; events "
	       "parked without an attempt (invalid) included.");
	for (size_t i = 0; i < p->n_subs; i++) {
		for (int k = 0; k < PROM_N_OUTCOMES; k++)
			put(o, "hsbridge_deliveries_total{sub=\"%s\",outcome=\"%s\"} %llu\n",
			    sub_label(p->subs[i], l), outcome_names[k],
			    (unsigned long long)p->subs[i]->outcomes[k]);
	}
	family(o, "hsbridge_parked_total", "counter", "Events parked, by reason.");
	for (size_t i = 0; i < p->n_subs; i++) {
		const struct prom_sub *s = p->subs[i];

		for (size_t k = 0; k < s->n_reasons; k++) {
			(void)prom_escape_label(s->reasons[k].name, r, sizeof(r));
			put(o, "hsbridge_parked_total{sub=\"%s\",reason=\"%s\"} %llu\n",
			    sub_label(s, l), r, (unsigned long long)s->reasons[k].n);
		}
		if (s->other_reasons)
			put(o, "hsbridge_parked_total{sub=\"%s\",reason=\"other\"} %llu\n",
			    sub_label(s, l), (unsigned long long)s->other_reasons);
	}
}

static void render_attempts(struct out *o, const struct prom *p)
{
	char l[PROM_NAME_MAX * 2 + 1];

	family(o, "hsbridge_attempts_total", "counter",
	       "Webhook requests that ended, by the class of their HTTP status (error: no "
	       "response: connection failure or timeout).");
	for (size_t i = 0; i < p->n_subs; i++) {
		for (int k = 0; k < PROM_N_CLASSES; k++)
			put(o, "hsbridge_attempts_total{sub=\"%s\",class=\"%s\"} %llu\n",
			    sub_label(p->subs[i], l), class_names[k],
			    (unsigned long long)p->subs[i]->classes[k]);
	}
	family(o, "hsbridge_attempt_duration_seconds", "histogram",
	       "Time from the start of a webhook request to its end (answer, error or timeout).");
	for (size_t i = 0; i < p->n_subs; i++) {
		const struct prom_sub *s = p->subs[i];
		unsigned long long cum = 0;

		(void)sub_label(s, l);
		for (int b = 0; b < PROM_N_BUCKETS; b++) {
			cum += s->buckets[b];
			put(o, "hsbridge_attempt_duration_seconds_bucket{sub=\"%s\",le=\"%g\"} %llu\n",
			    l, (double)prom_bucket_ms[b] / 1000.0, cum);
		}
		put(o, "hsbridge_attempt_duration_seconds_bucket{sub=\"%s\",le=\"+Inf\"} %llu\n", l,
		    (unsigned long long)s->attempts);
		put(o, "hsbridge_attempt_duration_seconds_sum{sub=\"%s\"} %llu.%03llu\n", l,
		    (unsigned long long)(s->ms_sum / 1000), (unsigned long long)(s->ms_sum % 1000));
		put(o, "hsbridge_attempt_duration_seconds_count{sub=\"%s\"} %llu\n", l,
		    (unsigned long long)s->attempts);
	}
}

static void render_state(struct out *o, const struct prom *p)
{
	char l[PROM_NAME_MAX * 2 + 1];

	per_sub(o, p, "hsbridge_in_flight", "gauge",
		"Deliveries taken from the queue and not settled yet (unacked).", in_flight);
	per_sub(o, p, "hsbridge_copies_held", "gauge",
		"Retry or parked copies waiting to be published (broker alarm, copies connection "
		"down, or refused).",
		held);
	per_sub(o, p, "hsbridge_copies_unconfirmed", "gauge",
		"Retry or parked copies published and awaiting the broker's confirm.", unconfirmed);
	family(o, "hsbridge_breaker_state", "gauge",
	       "1 for the circuit breaker's current state (closed, open, half_open), 0 for the "
	       "others.");
	for (size_t i = 0; i < p->n_subs; i++) {
		for (int k = 0; k < 3; k++)
			put(o, "hsbridge_breaker_state{sub=\"%s\",state=\"%s\"} %d\n",
			    sub_label(p->subs[i], l), breaker_names[k],
			    (int)p->subs[i]->breaker == k ? 1 : 0);
	}
	per_sub(o, p, "hsbridge_breaker_opens_total", "counter",
		"Times the circuit breaker opened (from closed, or a failed probe).", opens);
}

int prom_render(const struct prom *p, char **out, size_t *len)
{
	struct out o = {0};

	render_broker(&o, p);
	render_history(&o, p);
	render_outcomes(&o, p);
	render_attempts(&o, p);
	render_state(&o, p);
	if (o.oom || !o.buf) {
		free(o.buf);
		return -1;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}
