/* event: the envelope services publish (DESIGN section 2), delivery ids,
 * topic patterns. Pure code, no I/O. */
#ifndef HSBRIDGE_EVENT_H
#define HSBRIDGE_EVENT_H

#include <stdbool.h>
#include <stddef.h>

enum ev_status {
	EV_OK,
	EV_INVALID,   /* not a JSON object, or no object "data", or a bad id/type/created_at */
	EV_TOO_LARGE, /* more than max_body bytes */
};

struct ev_input {
	const char *body; /* not NUL-terminated */
	size_t len;
	size_t max_body;	 /* 0: no limit */
	const char *message_id;	 /* AMQP property, or NULL */
	const char *type_prop;	 /* AMQP "type" property, or NULL */
	const char *routing_key; /* or NULL; when set, an envelope type must equal it */
	long long timestamp;	 /* AMQP timestamp (unix seconds), 0 when absent */
	long long now;		 /* unix seconds, for created_at of last resort */
};

struct ev_event {
	char *body; /* what is POSTed: the input bytes when the envelope was
		       complete, else the completed envelope re-serialised */
	size_t len;
	bool rewritten;	  /* body differs from the input */
	char *id;	  /* envelope id */
	char *type;	  /* envelope type */
	char reason[160]; /* why, when the status is not EV_OK */
};

/* Validates and completes an envelope. Missing id/type/created_at come from
 * message_id (else a new "evt_" id) / type_prop, else routing_key /
 * timestamp, else now. On EV_OK the caller frees out with ev_free; on any
 * other status out holds only reason and needs no freeing (ev_free is safe). */
enum ev_status ev_prepare(const struct ev_input *in, struct ev_event *out)
    __attribute__((warn_unused_result));
void ev_free(struct ev_event *ev);

/* A name-based UUID (version 5, SHA-1) of (sub, event_id) in a fixed
 * hsbridge namespace: stable across retries, distinct across subscriptions.
 * out receives 36 characters and a NUL. */
void ev_delivery_id(const char *sub, const char *event_id, char out[37]);

/* AMQP topic matching: words split by '.', '*' is exactly one word, '#' is
 * zero or more words. */
bool ev_topic_match(const char *pattern, const char *key);

/* A pattern a subscription may use: words of [a-z0-9_-] or '*' or '#'. */
bool ev_valid_pattern(const char *pattern);

/* Whether the pattern matches at least one type of the event catalogue. */
bool ev_pattern_in_catalogue(const char *pattern);

/* "evt_" and 24 random characters from [A-Za-z0-9]. Returns 0 or -1. */
int ev_new_id(char *buf, size_t len) __attribute__((warn_unused_result));

/* unix seconds as "2024-02-27T10:30:00Z". */
void ev_format_time(long long unix_s, char *buf, size_t len);

#endif
