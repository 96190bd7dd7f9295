/* history: attempt records (issue 11), written and read back. Pure. */
/* strptime and timegm (glibc). */
#define _GNU_SOURCE 1
#include "hsbridge/history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "hsbridge/redact.h"
#include "hsbridge/utf8.h"

/* ------------------------------------------------------------- writing */

/* The record is written by hand, not through yajl_gen: one per attempt, on
 * the loop's thread, and yajl's generator (an allocation, every key
 * escaped, integers through printf) cost as much as a tenth of a
 * delivery under callgrind. */
struct jbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct jbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		char *p;

		while (b->n + len + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* Valid UTF-8 text as a JSON string: quote, backslash and controls escaped. */
static void put_escaped(struct jbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	PUT_LIT(b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		/* C1 controls (U+0080 to U+009F, 0xC2 0x80-0x9F in valid UTF-8)
		 * act on terminals like ESC: escaped, as DEL is, so that `logs
		 * --json` shows an endpoint's answer without a terminal acting on it. */
		bool c1 = c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			  (unsigned char)s[i + 1] <= 0x9f;

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f && !c1)
			continue;
		put(b, s + run, i - run);
		run = i + 1;
		if (c1) {
			c = (unsigned char)s[++i];
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			run = i + 1;
			put(b, esc, 6);
		} else if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			put(b, esc, 2);
		} else {
			put(b, esc, 6);
		}
	}
	put(b, s + run, len - run);
	PUT_LIT(b, "\"");
}

/* A string as valid UTF-8 (bad bytes as U+FFFD); NULL is null. */
static void put_str(struct jbuf *b, const char *s, size_t len)
{
	char *clean;

	if (!s) {
		PUT_LIT(b, "null");
		return;
	}
	if (utf8_valid(s, len, NULL)) {
		put_escaped(b, s, len);
		return;
	}
	/* U+FFFD is 3 bytes for each bad byte at most. */
	clean = malloc(3 * len + 1);
	if (!clean) {
		b->oom = true;
		return;
	}
	len = utf8_sanitize(s, len, clean, 3 * len + 1);
	put_escaped(b, clean, len);
	free(clean);
}

/* ,"key": then the value; key is a literal of safe characters. */
static void put_key(struct jbuf *b, const char *key)
{
	PUT_LIT(b, ",\"");
	put(b, key, strlen(key));
	PUT_LIT(b, "\":");
}

static void put_cstr(struct jbuf *b, const char *key, const char *v)
{
	put_key(b, key);
	put_str(b, v, v ? strlen(v) : 0);
}

static void put_int(struct jbuf *b, const char *key, long long v)
{
	char digits[24];
	size_t n = sizeof(digits);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	put_key(b, key);
	do {
		digits[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		digits[--n] = '-';
	put(b, digits + n, sizeof(digits) - n);
}

/* "2024-02-27T10:30:00.123Z"; the part to the second is kept from the last
 * call (records come many a second). */
static void format_ts(long long ms, char *buf, size_t len)
{
	static long long base_s = -1;
	static char base[24];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (s != base_s) {
		gmtime_r(&s, &tm);
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		base_s = s;
	}
	snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

int hist_format(const struct hist_record *r, size_t response_bytes, char **out, size_t *len)
{
	struct jbuf b = {0};
	char ts[40];

	format_ts(r->ts_ms, ts, sizeof(ts));
	PUT_LIT(&b, "{\"ts\":");
	put_str(&b, ts, strlen(ts));
	put_cstr(&b, "sub", r->sub);
	put_cstr(&b, "event", r->event);
	put_cstr(&b, "delivery", r->delivery);
	put_cstr(&b, "type", r->type);
	put_int(&b, "attempt", r->attempt);
	put_int(&b, "status", r->status);
	put_int(&b, "ms", r->ms);
	put_cstr(&b, "outcome", r->outcome);
	put_cstr(&b, "next", r->next);
	put_cstr(&b, "error", r->error && r->error[0] ? r->error : NULL);
	put_key(&b, "response");
	if (response_bytes > 0 && r->response)
		put_str(&b, r->response,
			r->response_len < response_bytes ? r->response_len : response_bytes);
	else
		PUT_LIT(&b, "null");
	PUT_LIT(&b, ",\"bridge\":{\"host\":");
	put_str(&b, r->host, r->host ? strlen(r->host) : 0);
	put_int(&b, "pid", r->pid);
	PUT_LIT(&b, "}}");
	if (b.oom) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*len = b.n;
	return 0;
}

/* --------------------------------------------------------------- queue */

int hist_queue_init(struct hist_queue *q, size_t max_items, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->items = calloc(max_items ? max_items : 1, sizeof(*q->items));
	if (!q->items)
		return -1;
	q->cap = max_items ? max_items : 1;
	q->max_bytes = max_bytes;
	return 0;
}

void hist_queue_free(struct hist_queue *q)
{
	while (q->items && q->n)
		hist_queue_pop(q);
	free(q->items);
	memset(q, 0, sizeof(*q));
}

bool hist_queue_push(struct hist_queue *q, char *json, size_t len, const char *sub,
		     const char *outcome)
{
	struct hist_item *it;

	if (!q->items || q->n == q->cap || q->bytes + len > q->max_bytes) {
		free(json);
		return false;
	}
	it = &q->items[(q->head + q->n) % q->cap];
	it->json = json;
	it->len = len;
	snprintf(it->sub, sizeof(it->sub), "%s", sub ? sub : "");
	snprintf(it->outcome, sizeof(it->outcome), "%s", outcome ? outcome : "");
	q->n++;
	q->bytes += len;
	return true;
}

const struct hist_item *hist_queue_peek(const struct hist_queue *q)
{
	return q->n ? &q->items[q->head] : NULL;
}

void hist_queue_pop(struct hist_queue *q)
{
	struct hist_item *it;

	if (!q->n)
		return;
	it = &q->items[q->head];
	q->bytes -= it->len;
	free(it->json);
	memset(it, 0, sizeof(*it));
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

/* ------------------------------------------------------------- reading */

/* A string field on one line, made safe for a terminal (line breaks and
 * tabs as \n, \r, \t; other controls and bytes that are not UTF-8 as
 * \xHH); "" when absent or not a string. */
static void view_str(yajl_val root, const char *key, char *buf, size_t len)
{
	const char *path[] = {key, NULL};
	yajl_val v = yajl_tree_get(root, path, yajl_t_string);
	const char *s = YAJL_GET_STRING(v);
	size_t n = 0, cap;
	char *flat;

	buf[0] = '\0';
	if (!s)
		return;
	cap = 2 * strlen(s) + 1;
	flat = malloc(cap);
	if (!flat)
		return;
	for (; *s; s++) {
		char e = *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s == '\t' ? 't' : 0;

		if (e) {
			flat[n++] = '\\';
			flat[n++] = e;
		} else {
			flat[n++] = *s;
		}
	}
	redact_controls(flat, n, buf, len);
	free(flat);
}

static long view_int(yajl_val root, const char *key)
{
	const char *path[] = {key, NULL};
	yajl_val v = yajl_tree_get(root, path, yajl_t_number);

	return v && YAJL_IS_INTEGER(v) ? (long)YAJL_GET_INTEGER(v) : -1;
}

int hist_parse(const char *json, size_t len, struct hist_view *v)
{
	char *text = malloc(len + 1);
	yajl_val root;

	memset(v, 0, sizeof(*v));
	if (!text)
		return -1;
	memcpy(text, json, len);
	text[len] = '\0';
	root = yajl_tree_parse(text, NULL, 0);
	free(text);
	if (!root || !YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return -1;
	}
	view_str(root, "ts", v->ts, sizeof(v->ts));
	view_str(root, "sub", v->sub, sizeof(v->sub));
	view_str(root, "event", v->event, sizeof(v->event));
	view_str(root, "delivery", v->delivery, sizeof(v->delivery));
	view_str(root, "type", v->type, sizeof(v->type));
	v->attempt = view_int(root, "attempt");
	v->status = view_int(root, "status");
	v->ms = view_int(root, "ms");
	view_str(root, "outcome", v->outcome, sizeof(v->outcome));
	view_str(root, "next", v->next, sizeof(v->next));
	view_str(root, "error", v->error, sizeof(v->error));
	view_str(root, "response", v->response, sizeof(v->response));
	yajl_tree_free(root);
	return 0;
}

/* "2024-02-27T10:00:00Z" (or with milliseconds, "…:00.250Z"),
 * "2024-02-27T10:00:00", "2024-02-27T10:00Z", "2024-02-27T10:00",
 * "2024-02-27": UTC, from 1970 on. */
static int parse_time(const char *text, long long *out_s)
{
	static const char *const forms[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"};
	struct tm tm;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(text, forms[i], &tm);
		/* The table's own times carry milliseconds: they paste back. */
		if (end && i == 0 && end[0] == '.' && end[1] >= '0' && end[1] <= '9')
			for (end++; *end >= '0' && *end <= '9'; end++)
				;
		if (!end || !(end[0] == '\0' || (end[0] == 'Z' && end[1] == '\0')))
			continue;
		*out_s = (long long)timegm(&tm);
		/* Before 1970 the stream's timestamp offset cannot say it. */
		return *out_s >= 0 ? 0 : -1;
	}
	return -1;
}

int hist_parse_since(const char *text, long long now_s, long long *out_s)
{
	static const struct {
		char unit;
		long long s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end = NULL;
	long long v;

	if (!text || !text[0])
		return -1;
	if (strchr(text, '-'))
		return parse_time(text, out_s);
	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (end[0] != units[i].unit)
			continue;
		if (v > now_s / units[i].s)
			return -1;
		*out_s = now_s - v * units[i].s;
		return 0;
	}
	return -1;
}

#define TABLE_FMT "%-24s  %-28s  %-20s  %7s  %6s  %6s  %-11s  %s"

void hist_table_header(char *buf, size_t len)
{
	snprintf(buf, len, TABLE_FMT, "TIME", "EVENT", "TYPE", "ATTEMPT", "STATUS", "MS", "OUTCOME",
		 "NEXT");
}

void hist_table_row(const struct hist_view *v, char *buf, size_t len)
{
	char attempt[24], status[24], ms[24];

	snprintf(attempt, sizeof(attempt), "%ld", v->attempt);
	snprintf(status, sizeof(status), "%ld", v->status);
	snprintf(ms, sizeof(ms), "%ld", v->ms);
	snprintf(buf, len, TABLE_FMT, v->ts, v->event, v->type, attempt, status, ms, v->outcome,
		 v->next[0] ? v->next : "-");
}

bool hist_field_is(const char *json, size_t len, const char *key, const char *want)
{
	const char *path[] = {key, NULL};
	char *text = malloc(len + 1);
	yajl_val root;
	const char *got = NULL;
	bool same;

	if (!text)
		return false;
	memcpy(text, json, len);
	text[len] = '\0';
	root = yajl_tree_parse(text, NULL, 0);
	free(text);
	if (root)
		got = YAJL_GET_STRING(yajl_tree_get(root, path, yajl_t_string));
	same = got != NULL && strcmp(got, want) == 0;
	yajl_tree_free(root);
	return same;
}
