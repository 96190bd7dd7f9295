/* prom: the bridge's figures for Prometheus, as a pure store and its text
 * exposition (format 0.0.4). No I/O and no clock: the bridge counts into
 * it where the relay decides an outcome, sets the gauges just before a
 * scrape, and metrics.c serves what prom_render writes.
 *
 * Every family is prefixed hsbridge_ and labelled by sub (the subscription
 * name) where it is about one; the names follow Prometheus's conventions
 * (_total counters, base units: seconds). A subscription's counters live
 * as long as a subscription of that name is configured: a reload keeps
 * them, one that removes the name drops them, and a name that comes back
 * starts from zero (a counter reset, which rate() and increase() handle). */
#ifndef HSBRIDGE_PROM_H
#define HSBRIDGE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_NAME_MAX 64   /* a subscription name (config: at most 64) */
#define PROM_REASON_MAX 32 /* a parked reason's name */
/* Distinct parked reasons kept per subscription; more are counted as
 * "other" (the reasons are the bridge's own few names: never reached). */
#define PROM_REASONS 12

/* What an attempt, or an event refused before any, ended in. */
enum prom_outcome {
	PROM_DELIVERED,
	PROM_RETRY,
	PROM_PARKED,
	PROM_N_OUTCOMES,
	PROM_NO_OUTCOME = PROM_N_OUTCOMES, /* the session ended first: handed back */
};

/* The class of an attempt's HTTP status: error is no response at all. */
enum prom_class {
	PROM_1XX,
	PROM_2XX,
	PROM_3XX,
	PROM_4XX,
	PROM_5XX,
	PROM_OTHER, /* a status outside 100-599 */
	PROM_ERROR,
	PROM_N_CLASSES,
};

/* The attempt-duration histogram's upper bounds, in milliseconds (rendered
 * in seconds: le="0.005" … le="300", then le="+Inf"). */
#define PROM_N_BUCKETS 16
extern const long prom_bucket_ms[PROM_N_BUCKETS];

/* A breaker's state, as breaker.h names them (closed, open, half_open). */
enum prom_breaker { PROM_BREAKER_CLOSED, PROM_BREAKER_OPEN, PROM_BREAKER_HALF_OPEN };

struct prom_reason {
	char name[PROM_REASON_MAX];
	uint64_t n;
};

/* One subscription's figures. Its address is stable from prom_bind to the
 * prom_bind that drops its name: the bridge keeps a pointer to it. */
struct prom_sub {
	char name[PROM_NAME_MAX + 1];
	/* counters */
	uint64_t outcomes[PROM_N_OUTCOMES];
	uint64_t classes[PROM_N_CLASSES];
	uint64_t buckets[PROM_N_BUCKETS]; /* per bucket, not cumulative; above the last: +Inf only */
	uint64_t attempts;		  /* the histogram's count */
	uint64_t ms_sum;		  /* its sum, in milliseconds */
	struct prom_reason reasons[PROM_REASONS];
	size_t n_reasons;
	uint64_t other_reasons; /* parked with a reason past PROM_REASONS */
	uint64_t breaker_opens;
	/* gauges, set just before a scrape */
	long in_flight;
	long copies_held;
	long copies_unconfirmed;
	enum prom_breaker breaker;
};

/* Why an attempt record did not reach the history stream (issue 11). */
enum prom_hist_drop {
	PROM_HIST_BUFFER_FULL, /* the bounded buffer was full (the copies connection down, an alarm) */
	PROM_HIST_REFUSED,     /* the broker nacked it */
	PROM_HIST_UNROUTABLE,  /* no stream took it (deleted): returned */
	PROM_HIST_UNCONFIRMED, /* the copies connection was lost before its confirm */
	PROM_HIST_N_DROPS,
};

struct prom {
	struct prom_sub **subs; /* in config order; each its own allocation */
	size_t n_subs;
	const char *version;		  /* build info; borrowed, static */
	bool connected, copies_connected; /* gauges, set just before a scrape */
	bool ready;
	uint64_t reconnects;
	/* history records: confirmed into the stream, dropped by reason, and
	 * (a gauge) waiting to be published or confirmed */
	uint64_t history_written;
	uint64_t history_dropped[PROM_HIST_N_DROPS];
	long history_buffered;
};

/* An empty store (no subscription) for a build of version (borrowed). */
void prom_init(struct prom *p, const char *version);
/* Frees every subscription's figures. */
void prom_free(struct prom *p);

/* Makes names (n of them, distinct) the store's subscriptions, in that
 * order: a name it had keeps its figures and its address, a new one starts
 * at zero, the others are freed. Returns 0, or -1 when out of memory (the
 * store is then unchanged). */
int prom_bind(struct prom *p, const char *const *names, size_t n) __attribute__((warn_unused_result));
/* The i-th subscription's figures (i < n_subs). */
struct prom_sub *prom_sub_at(const struct prom *p, size_t i);

/* The class of an HTTP status (0: no response). */
enum prom_class prom_class_of(int status);
/* One attempt: its outcome (PROM_NO_OUTCOME: none was recorded), its HTTP
 * status (0: no response) and how long it took. reason: the parked reason
 * when the outcome is PROM_PARKED, else NULL. s may be NULL (nothing). */
void prom_attempt(struct prom_sub *s, enum prom_outcome o, int status, long ms,
		  const char *reason);
/* An event parked without an attempt (invalid, too large). */
void prom_parked(struct prom_sub *s, const char *reason);
/* Makes reason show as 0 before its first park (so that increase() sees
 * the first one). */
void prom_reason_known(struct prom_sub *s, const char *reason);

/* Writes the exposition into a new NUL-terminated buffer: 0 with *out
 * (caller frees) and *len, or -1 when out of memory. */
int prom_render(const struct prom *p, char **out, size_t *len) __attribute__((warn_unused_result));

/* Appends s as a label value (without the quotes): backslash, double quote
 * and line feed escaped as the exposition format says. Returns the length
 * it needs (as snprintf does: the output is cut to fit, NUL-terminated
 * when len > 0). */
size_t prom_escape_label(const char *s, char *buf, size_t len);

#endif
