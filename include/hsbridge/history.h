/* history: the attempt records of the stream <prefix>.attempts (issue 11),
 * as pure code: one compact JSON document per attempt, a bounded queue of
 * them waiting to be published, and what `hsbridge logs` reads back (a
 * record's fields, the --since grammar, a table row). No I/O. */
#ifndef HSBRIDGE_HISTORY_H
#define HSBRIDGE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One attempt as the bridge saw it. Every string is borrowed for the call
 * and may be NULL (written as null); none may be a secret, and the request
 * body is never one of them (it can carry health data: the event and
 * delivery ids find it). */
struct hist_record {
	long long ts_ms; /* wall clock, ms since the epoch: when the attempt ended */
	const char *sub;
	const char *event;
	const char *delivery;
	const char *type;
	unsigned attempt;
	int status; /* HTTP status, 0: no response */
	long ms;
	const char *outcome; /* delivered, retry, parked, handed_back (test-event: failed) */
	const char *next;    /* the retry delay ("5m"), or NULL */
	const char *error;
	const char *response; /* the endpoint's answer, raw bytes (response_len of them) */
	size_t response_len;
	const char *host; /* the bridge: host name and pid */
	long pid;
};

/* r as one line of compact JSON, {"ts":…,"sub":…,…,"bridge":{"host":…,
 * "pid":…}}, valid UTF-8 whatever the inputs (bytes that are not UTF-8
 * become U+FFFD). "response" holds at most response_bytes bytes of the
 * answer (cut there, so a sequence cut short becomes U+FFFD too); 0 writes
 * null. Returns 0 with *out (malloc'd, NUL-terminated; caller frees) and
 * *len, or -1 when out of memory. */
int hist_format(const struct hist_record *r, size_t response_bytes, char **out, size_t *len)
    __attribute__((warn_unused_result));

/* ---- the queue of records waiting for the publishing connection -------- */

struct hist_item {
	char *json; /* hist_format's */
	size_t len;
	char sub[65];	  /* the `sub` header */
	char outcome[16]; /* the `outcome` header */
};

/* A ring of at most max_items records and max_bytes of JSON: what does not
 * fit is refused (the caller counts it as dropped), never held without
 * bound. */
struct hist_queue {
	struct hist_item *items;
	size_t cap, head, n;
	size_t bytes, max_bytes;
};

int hist_queue_init(struct hist_queue *q, size_t max_items, size_t max_bytes)
    __attribute__((warn_unused_result));
void hist_queue_free(struct hist_queue *q);
/* Takes json (hist_format's; the queue frees it) when there is room:
 * true. false: no room, json freed; the record is dropped. */
bool hist_queue_push(struct hist_queue *q, char *json, size_t len, const char *sub,
		     const char *outcome);
/* The oldest record, or NULL; borrowed until hist_queue_pop. */
const struct hist_item *hist_queue_peek(const struct hist_queue *q);
void hist_queue_pop(struct hist_queue *q);

/* ---- reading records back (`hsbridge logs`) ----------------------------- */

/* A record's fields as `logs` shows them: strings "" when absent or null,
 * numbers -1 when absent. */
struct hist_view {
	char ts[32];
	char sub[65];
	char event[128];
	char delivery[40];
	char type[128];
	long attempt;
	long status;
	long ms;
	char outcome[16];
	char next[16];
	char error[512];
	char response[4 * 4096 + 1];
};

/* Parses one record: 0, or -1 when it is not a JSON object. Any string
 * read is written back valid UTF-8 and without control characters, so
 * that it cannot drive a terminal. */
int hist_parse(const char *json, size_t len, struct hist_view *v)
    __attribute__((warn_unused_result));

/* Whether the record's string field key is exactly want, as stored (the
 * view's copies are escaped and cut for display: no use for matching). */
bool hist_field_is(const char *json, size_t len, const char *key, const char *want);

/* --since: "1h", "30m", "45s", "7d" before now_s, or an ISO-8601 UTC time
 * "2024-02-27T10:00:00Z" (seconds and the Z optional: "2024-02-27T10:00"
 * is UTC too). 0 with *out_s (unix seconds), or -1. */
int hist_parse_since(const char *text, long long now_s, long long *out_s)
    __attribute__((warn_unused_result));

/* The table `logs` prints: its header line and one row per record (time,
 * event, type, attempt, status, ms, outcome, next), each NUL-terminated,
 * without a newline. */
void hist_table_header(char *buf, size_t len);
void hist_table_row(const struct hist_view *v, char *buf, size_t len);

#endif
