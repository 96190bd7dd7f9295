/* cli_logs: `hsbridge logs SUB`, one subscription's attempt records read
 * from the history stream <prefix>.attempts (issue 11). It consumes the
 * stream from a timestamp (x-stream-offset), so it reads only the records
 * since --since, never the whole stream; the broker's `sub` and `outcome`
 * headers filter before any JSON is parsed.
 *
 * A stream has no end to reach over AMQP 0-9-1 (a consumer waits for the
 * next record; queue.declare-ok's message count is a statistic that lags),
 * so without --follow the command stops once the stream has sent nothing
 * for IDLE_END_MS: what was stored when it started has arrived by then (the
 * broker sends stored chunks back to back). With --follow it goes on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "hsbridge/broker.h"
#include "hsbridge/clock.h"
#include "hsbridge/config.h"
#include "hsbridge/history.h"
#include "hsbridge/topology.h"

#include "cli_int.h"

#define IDLE_END_MS 1000
#define PREFETCH 1000
#define LIMIT_MAX 1000000
/* How far ahead of this host a bridge's clock may be: a record stamped
 * later than start + this was written after `logs` started. */
#define CLOCK_MARGIN_S 2
#define DEFAULT_SINCE "1h"
#define USAGE                                                                                      \
	"logs SUB [--since 1h|2024-02-27T10:00:00Z] [--failed] [--event ID] [--delivery UUID] "    \
	"[--limit N] [--follow] [--json]"

struct logs_opts {
	const char *sub;
	long long since_s;
	char since_ts[32]; /* since_s as records write ts, for the exact cut */
	bool failed, follow, json;
	const char *event, *delivery;
	long limit; /* -1: all */
};

/* The last --limit records, printed once the stored ones have arrived. */
struct ring {
	char **lines;
	size_t cap, head, n;
};

static int usage_error(const char *why, const char *arg)
{
	fprintf(stderr, "hsbridge: logs: %s%s%s (usage: " USAGE ")\n", why, arg ? ": " : "",
		arg ? arg : "");
	return EX_USAGE;
}

/* The value after an option: argv[*i + 1]. */
static const char *value_of(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int parse_limit(const char *text, long *out)
{
	char *end = NULL;

	if (!text || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	*out = strtol(text, &end, 10);
	return errno || *end ? -1 : 0;
}

static int parse_opts(const struct cli_args *a, struct logs_opts *o)
{
	const char *since = DEFAULT_SINCE;
	struct tm tm;
	time_t t;

	memset(o, 0, sizeof(*o));
	o->limit = -1;
	for (int i = 0; i < a->argc; i++) {
		const char *arg = a->argv[i];

		if (strcmp(arg, "--failed") == 0)
			o->failed = true;
		else if (strcmp(arg, "--follow") == 0 || strcmp(arg, "-f") == 0)
			o->follow = true;
		else if (strcmp(arg, "--json") == 0)
			o->json = true;
		else if (strcmp(arg, "--since") == 0 && (since = value_of(a->argc, a->argv, &i)))
			continue;
		else if (strcmp(arg, "--event") == 0 && (o->event = value_of(a->argc, a->argv, &i)))
			continue;
		else if (strcmp(arg, "--delivery") == 0 &&
			 (o->delivery = value_of(a->argc, a->argv, &i)))
			continue;
		else if (strcmp(arg, "--limit") == 0) {
			if (parse_limit(value_of(a->argc, a->argv, &i), &o->limit) != 0 ||
			    o->limit > LIMIT_MAX)
				return usage_error("--limit takes a whole number, 0 to 1000000", NULL);
		} else if (arg[0] == '-')
			return usage_error("unknown option, or an option without its value", arg);
		else if (!o->sub)
			o->sub = arg;
		else
			return usage_error("too many operands", arg);
	}
	if (!o->sub)
		return usage_error("missing operand", NULL);
	if (!since || hist_parse_since(since, clk_wall_s(), &o->since_s) != 0)
		return usage_error("--since takes an age (30s, 15m, 1h, 7d) or a UTC time "
				   "from 1970 on (2024-02-27T10:00:00Z)",
				   since);
	t = (time_t)o->since_s;
	gmtime_r(&t, &tm);
	strftime(o->since_ts, sizeof(o->since_ts), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	return EX_OK;
}

static bool header_is(const amqp_basic_properties_t *p, const char *key, const char *want)
{
	if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
		return false;
	for (int i = 0; i < p->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &p->headers.entries[i];
		size_t n = strlen(want);

		if (e->key.len != strlen(key) || memcmp(e->key.bytes, key, e->key.len) != 0)
			continue;
		if (e->value.kind != AMQP_FIELD_KIND_UTF8 && e->value.kind != AMQP_FIELD_KIND_BYTES)
			return false;
		return e->value.value.bytes.len == n &&
		       memcmp(e->value.value.bytes.bytes, want, n) == 0;
	}
	return false;
}

/* The line to print for a record that passes the filters, or NULL (not
 * this subscription's, filtered out, before --since, or not a record).
 * Caller frees. */
static char *render(const struct logs_opts *o, const amqp_message_t *m)
{
	struct hist_view *v;
	char *line = NULL;
	size_t cap;

	/* The cheap filters first: --event and --delivery over a long --since
	 * leave most records out, each then parsed once. */
	if (!header_is(&m->properties, "sub", o->sub) ||
	    (o->failed && header_is(&m->properties, "outcome", "delivered")) ||
	    (o->event && !hist_field_is(m->body.bytes, m->body.len, "event", o->event)) ||
	    (o->delivery && !hist_field_is(m->body.bytes, m->body.len, "delivery", o->delivery)))
		return NULL;
	v = malloc(sizeof(*v));
	if (!v || hist_parse(m->body.bytes, m->body.len, v) != 0 ||
	    strcmp(v->ts, o->since_ts) < 0)
		goto out;
	if (o->json) {
		/* The record as stored: valid JSON (it parsed), one line. */
		line = strndup(m->body.bytes, m->body.len);
		goto out;
	}
	cap = 512 + strlen(v->error) + strlen(v->response);
	line = malloc(cap);
	if (!line)
		goto out;
	hist_table_row(v, line, cap);
	if (v->error[0])
		snprintf(line + strlen(line), cap - strlen(line), "\n    error:    %s", v->error);
	if (v->response[0])
		snprintf(line + strlen(line), cap - strlen(line), "\n    response: %s",
			 v->response);
out:
	free(v);
	return line;
}

static void emit(const char *line)
{
	puts(line);
	fflush(stdout);
}

/* Keeps line among the last cap ones (takes it). */
static void ring_put(struct ring *r, char *line)
{
	if (r->cap == 0) {
		free(line);
		return;
	}
	if (r->n == r->cap) {
		free(r->lines[r->head]);
		r->lines[r->head] = line;
		r->head = (r->head + 1) % r->cap;
		return;
	}
	r->lines[(r->head + r->n++) % r->cap] = line;
}

static void ring_flush(struct ring *r)
{
	for (size_t i = 0; i < r->n; i++) {
		emit(r->lines[(r->head + i) % r->cap]);
		free(r->lines[(r->head + i) % r->cap]);
	}
	r->n = r->head = 0;
}

/* Starts the consumer at the first chunk holding records from since_s. */
static int start(struct brk *b, const struct cfg *cfg, const struct logs_opts *o)
{
	char stream[BRK_NAME_MAX];
	char err[BRK_ERR_MAX];
	uint32_t n = 0, consumers = 0;
	amqp_table_entry_t offset;
	int rc;

	topo_attempts_queue(cfg, stream, sizeof(stream));
	rc = brk_queue_counts(b, 1, stream, &n, &consumers, err, sizeof(err));
	if (rc == BRK_ERR_CHANNEL) {
		fprintf(stderr,
			"hsbridge: no history stream %s on this broker (history.enabled = %s; a "
			"bridge or `hsbridge topology` declares it)\n",
			stream, cfg->history.enabled ? "true" : "false");
		return EX_UNAVAILABLE;
	}
	offset.key = amqp_cstring_bytes("x-stream-offset");
	offset.value.kind = AMQP_FIELD_KIND_TIMESTAMP;
	offset.value.value.u64 = (uint64_t)o->since_s;
	if (rc == 0)
		rc = brk_qos(b, 1, PREFETCH, err, sizeof(err));
	if (rc == 0)
		rc = brk_consume_args(b, 1, stream, "hsbridge-logs", &offset, 1, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return EX_OK;
}

/* Whether a record was written after `logs` started (its AMQP timestamp,
 * whole seconds, past start_s and a margin for the bridges' clocks): the
 * stored records are all in then, however busy the stream is. */
static bool written_after(const amqp_message_t *m, long long start_s)
{
	return (m->properties._flags & AMQP_BASIC_TIMESTAMP_FLAG) &&
	       (long long)m->properties.timestamp > start_s + CLOCK_MARGIN_S;
}

/* Reads until the stored records are in (a record written after the start,
 * or IDLE_END_MS without one), then prints what --limit kept; with
 * --follow, goes on printing as they come. */
static int read_records(struct brk *b, const struct logs_opts *o, struct ring *r)
{
	long long idle_since = clk_mono_ms();
	long long start_s = clk_wall_s();
	bool caught_up = false;
	struct brk_event ev;
	char err[BRK_ERR_MAX];

	for (;;) {
		if (brk_wait(b, &ev, caught_up ? 1000 : 100, err, sizeof(err)) != 0 ||
		    brk_flush_acks(b) != 0) {
			fprintf(stderr, "hsbridge: %s\n", err[0] ? err : "connection lost");
			return EX_UNAVAILABLE;
		}
		if (ev.kind == BRK_DELIVERY) {
			char *line = render(o, &ev.message);

			if (!caught_up && written_after(&ev.message, start_s)) {
				caught_up = true;
				ring_flush(r);
				if (!o->follow) {
					free(line);
					brk_event_clear(&ev);
					return EX_OK;
				}
			}

			idle_since = clk_mono_ms();
			if (brk_ack(b, ev.channel, ev.delivery_tag) != 0) {
				brk_event_clear(&ev);
				free(line);
				fprintf(stderr, "hsbridge: the stream's channel started over\n");
				return EX_UNAVAILABLE;
			}
			if (line && o->limit >= 0 && !caught_up) {
				ring_put(r, line);
			} else if (line) {
				emit(line);
				free(line);
			}
		} else if (ev.kind == BRK_CANCEL) {
			fprintf(stderr, "hsbridge: the broker cancelled the read (was the stream "
					"deleted?)\n");
			return EX_UNAVAILABLE;
		}
		brk_event_clear(&ev);
		if (!caught_up && clk_mono_ms() - idle_since >= IDLE_END_MS) {
			caught_up = true;
			ring_flush(r);
			if (!o->follow)
				return EX_OK;
		}
	}
}

int cli_cmd_logs(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	struct logs_opts o;
	struct ring r = {0};
	struct brk *b = NULL;
	char head[256];
	int rc = parse_opts(a, &o);

	if (rc != EX_OK)
		return rc;
	if (!cfg_find_sub(cfg, o.sub))
		fprintf(stderr,
			"hsbridge: note: no subscription \"%s\" in %s; reading its records "
			"anyway\n",
			o.sub, cfg->path);
	if (o.limit >= 0) {
		r.cap = (size_t)o.limit;
		r.lines = calloc(r.cap ? r.cap : 1, sizeof(*r.lines));
		if (!r.lines)
			return EX_TEMPFAIL;
	}
	rc = cli_connect_channel(cfg, "hsbridge logs", false, &b, NULL);
	if (rc == EX_OK)
		rc = start(b, cfg, &o);
	if (rc == EX_OK && !o.json) {
		hist_table_header(head, sizeof(head));
		emit(head);
	}
	if (rc == EX_OK) {
		rc = read_records(b, &o, &r);
		/* RabbitMQ 3.10 keeps counting a stream consumer whose connection
		 * closed without a basic.cancel. */
		if (rc == EX_OK && brk_cancel(b, 1, "hsbridge-logs") != 0)
			fprintf(stderr, "hsbridge: note: the read was not cancelled cleanly\n");
	}
	for (size_t i = 0; i < r.n; i++)
		free(r.lines[(r.head + i) % r.cap]);
	free(r.lines);
	brk_close(b);
	return rc;
}
