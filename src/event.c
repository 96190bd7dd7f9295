/* event: the envelope services publish (DESIGN section 2), delivery ids and
 * AMQP topic patterns. Pure code: no I/O besides the random bytes of new ids.
 *
 * The envelope is read with yajl's event parser rather than yajl_tree: the
 * callbacks give strings with their length (a "\u0000" inside a string
 * survives) and numbers as their original text, need no recursion, and let
 * one walk both validate and, when fields are missing, re-serialise. */
#include "hsbridge/event.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "hsbridge/utf8.h"

/* yajl_gen refuses to open its 128th container; stop well before so a deeply
 * nested body gets a clear reason whether or not it needs rewriting. */
#define MAX_DEPTH 100

/* id, type and created_at end up in HTTP headers and logs. */
#define MAX_FIELD_LEN 255

/* 9999-12-31T23:59:59Z: the last instant with a four-digit year. */
#define MAX_RFC3339_SECONDS 253402300799LL
/* Room for a made-up event id and an RFC 3339 created_at. */
#define ID_BUF_LEN 32
#define TIME_BUF_LEN 32

/* uuid5(NAMESPACE_URL, "https://healthsync/hsbridge/delivery") computed once
 * with python3's uuid module: 15b8880e-053a-5b4e-b167-32f8296fd920. Changing
 * it changes every delivery id, so it never changes. */
static const unsigned char delivery_namespace[16] = {
    0x15, 0xb8, 0x88, 0x0e, 0x05, 0x3a, 0x5b, 0x4e, 0xb1, 0x67, 0x32, 0xf8, 0x29, 0x6f, 0xd9, 0x20,
};

static const char *const catalogue[] = {
    "document.uploaded",     "document.updated", "document.deleted", "document.shared",
    "analysis.completed",    "analysis.failed",	 "user.updated",     "family_member.added",
    "family_member.removed", "share.created",	 "share.accessed",   "share.expired",
    "share.revoked",	     "webhook.test",
};

/* Top-level members the envelope rules name, in output order. */
enum field { F_ID, F_TYPE, F_CREATED_AT, F_DATA, F_OTHER };
#define N_STRING_FIELDS 3
static const char *const field_names[] = {"id", "type", "created_at", "data"};

enum kind { K_SCALAR, K_STRING, K_CONTAINER_MAP, K_CONTAINER_ARRAY };

struct walk {
	yajl_gen gen;	   /* NULL in the validating pass, the output in the rewriting pass */
	int depth;	   /* containers open around the next token */
	enum field member; /* top-level member whose value comes next */
	bool seen[F_OTHER];
	char *value[N_STRING_FIELDS]; /* id, type, created_at as found (validating pass) */
	char *reason;
	size_t reason_len;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static int walk_fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->failed) {
		va_start(ap, fmt);
		vsnprintf(w->reason, w->reason_len, fmt, ap);
		va_end(ap);
		w->failed = true;
	}
	return 0;
}

static int gen_ok(struct walk *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		return walk_fail(w, "cannot re-serialise the envelope (yajl_gen status %d)",
				 (int)st);
	return 1;
}

/* A value usable as id, type or created_at: it goes into headers, so no
 * control characters (a CR or LF would split the header) and a sane length. */
static bool usable_field(const unsigned char *s, size_t len)
{
	if (len == 0 || len > MAX_FIELD_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* Called before every value. Applies the envelope rules at the top two
 * levels; returns 0 to stop the parse, and sets *skip for values the
 * rewriting pass must not copy (the root, whose '{' is already written, and
 * the three fields written first). */
static int value_start(struct walk *w, enum kind k, const unsigned char *s, size_t len, bool *skip)
{
	enum field f;

	*skip = false;
	if (w->depth == 0) {
		if (k != K_CONTAINER_MAP)
			return walk_fail(w, "body is not a JSON object");
		*skip = w->gen != NULL;
		return 1;
	}
	if (w->depth > 1)
		return 1;

	f = w->member;
	w->member = F_OTHER;
	if (f < N_STRING_FIELDS) {
		if (k != K_STRING || !usable_field(s, len))
			return walk_fail(w,
					 "envelope %s must be a string of 1 to %d bytes without "
					 "control characters",
					 field_names[f], MAX_FIELD_LEN);
		if (w->gen == NULL) {
			w->value[f] = malloc(len + 1);
			if (w->value[f] == NULL)
				return walk_fail(w, "out of memory");
			memcpy(w->value[f], s, len);
			w->value[f][len] = '\0';
		}
		*skip = true;
		return 1;
	}
	if (f == F_DATA && k != K_CONTAINER_MAP)
		return walk_fail(w, "envelope has no data object");
	return 1;
}

static int cb_null(void *ctx)
{
	struct walk *w = ctx;
	bool skip;

	if (!value_start(w, K_SCALAR, NULL, 0, &skip))
		return 0;
	return skip || w->gen == NULL || gen_ok(w, yajl_gen_null(w->gen));
}

static int cb_boolean(void *ctx, int b)
{
	struct walk *w = ctx;
	bool skip;

	if (!value_start(w, K_SCALAR, NULL, 0, &skip))
		return 0;
	return skip || w->gen == NULL || gen_ok(w, yajl_gen_bool(w->gen, b));
}

/* The number's own text, so nothing is lost to double or long long. */
static int cb_number(void *ctx, const char *s, size_t len)
{
	struct walk *w = ctx;
	bool skip;

	if (!value_start(w, K_SCALAR, NULL, 0, &skip))
		return 0;
	return skip || w->gen == NULL || gen_ok(w, yajl_gen_number(w->gen, s, len));
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct walk *w = ctx;
	bool skip;

	if (!value_start(w, K_STRING, s, len, &skip))
		return 0;
	return skip || w->gen == NULL || gen_ok(w, yajl_gen_string(w->gen, s, len));
}

static int open_container(struct walk *w, enum kind k)
{
	bool skip;
	yajl_gen_status st;

	if (!value_start(w, k, NULL, 0, &skip))
		return 0;
	if (++w->depth > MAX_DEPTH)
		return walk_fail(w, "body nests deeper than %d levels", MAX_DEPTH);
	if (skip || w->gen == NULL)
		return 1;
	st = k == K_CONTAINER_MAP ? yajl_gen_map_open(w->gen) : yajl_gen_array_open(w->gen);
	return gen_ok(w, st);
}

static int cb_start_map(void *ctx)
{
	return open_container(ctx, K_CONTAINER_MAP);
}

static int cb_start_array(void *ctx)
{
	return open_container(ctx, K_CONTAINER_ARRAY);
}

static int cb_end_map(void *ctx)
{
	struct walk *w = ctx;

	w->depth--;
	return w->gen == NULL || gen_ok(w, yajl_gen_map_close(w->gen));
}

static int cb_end_array(void *ctx)
{
	struct walk *w = ctx;

	w->depth--;
	return w->gen == NULL || gen_ok(w, yajl_gen_array_close(w->gen));
}

static enum field classify(const unsigned char *key, size_t len)
{
	for (int f = 0; f < F_OTHER; f++) {
		if (strlen(field_names[f]) == len && memcmp(field_names[f], key, len) == 0)
			return (enum field)f;
	}
	return F_OTHER;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct walk *w = ctx;
	enum field f;

	if (w->depth == 1) {
		f = classify(key, len);
		/* yajl keeps both copies of a repeated key; which one a receiver
		 * believes is up to its parser, so refuse to guess. */
		if (f != F_OTHER && w->seen[f])
			return walk_fail(w, "envelope has more than one \"%s\"", field_names[f]);
		if (f != F_OTHER)
			w->seen[f] = true;
		w->member = f;
		if (f < N_STRING_FIELDS)
			return 1;
	}
	return w->gen == NULL || gen_ok(w, yajl_gen_string(w->gen, key, len));
}

static const yajl_callbacks walk_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* One strict pass over the body (no comments, UTF-8 checked: yajl's
 * defaults). Returns 0, or -1 with the reason set. */
static int walk_body(struct walk *w, const char *body, size_t len)
{
	yajl_handle h;
	yajl_status st;
	int rc = -1;

	w->depth = 0;
	w->member = F_OTHER;
	memset(w->seen, 0, sizeof(w->seen));
	h = yajl_alloc(&walk_callbacks, NULL, w);
	if (h == NULL) {
		walk_fail(w, "out of memory");
		goto out;
	}
	st = yajl_parse(h, (const unsigned char *)body, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok) {
		/* A callback that stopped the parse has said why already. */
		walk_fail(w, "body is not valid JSON");
		goto out;
	}
	rc = 0;
out:
	if (h != NULL)
		yajl_free(h);
	return rc;
}

static int gen_pair(yajl_gen g, const char *key, const char *value)
{
	if (yajl_gen_string(g, (const unsigned char *)key, strlen(key)) != yajl_gen_status_ok ||
	    yajl_gen_string(g, (const unsigned char *)value, strlen(value)) != yajl_gen_status_ok)
		return -1;
	return 0;
}

/* The completed envelope: id, type, created_at first, then every other
 * member in its original order with its original value. */
static int rewrite(struct walk *w, const char *body, size_t len, const char *const value[3],
		   char **out, size_t *out_len)
{
	const unsigned char *buf;
	size_t buf_len;
	int rc = -1;

	w->gen = yajl_gen_alloc(NULL);
	if (w->gen == NULL) {
		walk_fail(w, "out of memory");
		goto out;
	}
	if (yajl_gen_map_open(w->gen) != yajl_gen_status_ok)
		goto gen_failed;
	for (int f = 0; f < N_STRING_FIELDS; f++) {
		if (gen_pair(w->gen, field_names[f], value[f]) != 0)
			goto gen_failed;
	}
	if (walk_body(w, body, len) != 0)
		goto out;
	if (yajl_gen_get_buf(w->gen, &buf, &buf_len) != yajl_gen_status_ok)
		goto gen_failed;
	*out = malloc(buf_len + 1);
	if (*out == NULL) {
		walk_fail(w, "out of memory");
		goto out;
	}
	memcpy(*out, buf, buf_len);
	(*out)[buf_len] = '\0';
	*out_len = buf_len;
	rc = 0;
	goto out;
gen_failed:
	walk_fail(w, "cannot re-serialise the envelope");
out:
	if (w->gen != NULL)
		yajl_gen_free(w->gen);
	w->gen = NULL;
	return rc;
}

static char *dup_str(const char *s)
{
	size_t len = strlen(s);
	char *copy = malloc(len + 1);

	if (copy != NULL)
		memcpy(copy, s, len + 1);
	return copy;
}

/* An AMQP property used as a fallback: absent when NULL or empty, refused
 * when it could not serve as a header value. */
static int fallback(const char *prop, const char *name, struct walk *w, const char **use)
{
	if (prop == NULL || prop[0] == '\0')
		return 0;
	if (!usable_field((const unsigned char *)prop, strlen(prop))) {
		walk_fail(w, "%s must be 1 to %d bytes without control characters", name,
			  MAX_FIELD_LEN);
		return -1;
	}
	/* It goes into the JSON body, a header and the log. */
	if (!utf8_valid(prop, strlen(prop), NULL)) {
		walk_fail(w, "%s is not valid UTF-8", name);
		return -1;
	}
	*use = prop;
	return 0;
}

/* A complete envelope is delivered byte for byte: the signature covers
 * these bytes. */
static int copy_body(const struct ev_input *in, struct walk *w, struct ev_event *out)
{
	out->body = malloc(in->len + 1);
	if (out->body == NULL) {
		walk_fail(w, "out of memory");
		return -1;
	}
	if (in->len > 0)
		memcpy(out->body, in->body, in->len);
	out->body[in->len] = '\0';
	out->len = in->len;
	out->rewritten = false;
	return 0;
}

/* Fills the fields the envelope lacks from the AMQP properties, or makes
 * them up (an id, now). new_id and created are where made-up values live;
 * value[] may point into them afterwards. */
static int fill_missing(const struct ev_input *in, struct walk *w,
			const char *value[N_STRING_FIELDS], char new_id[ID_BUF_LEN],
			char created[TIME_BUF_LEN])
{
	long long when;

	if (value[F_ID] == NULL && fallback(in->message_id, "message_id", w, &value[F_ID]) != 0)
		return -1;
	if (value[F_ID] == NULL) {
		if (ev_new_id(new_id, ID_BUF_LEN) != 0) {
			walk_fail(w, "cannot generate an event id");
			return -1;
		}
		value[F_ID] = new_id;
	}
	if (value[F_TYPE] == NULL &&
	    fallback(in->type_prop, "type property", w, &value[F_TYPE]) != 0)
		return -1;
	if (value[F_TYPE] == NULL &&
	    fallback(in->routing_key, "routing key", w, &value[F_TYPE]) != 0)
		return -1;
	if (value[F_TYPE] == NULL) {
		walk_fail(w, "no event type");
		return -1;
	}
	if (value[F_CREATED_AT] == NULL) {
		/* A timestamp beyond year 9999 (milliseconds by mistake, say)
		 * would not format as RFC 3339: fall back to now. */
		when = in->timestamp > 0 && in->timestamp <= MAX_RFC3339_SECONDS ? in->timestamp
										 : in->now;
		ev_format_time(when, created, TIME_BUF_LEN);
		if (created[0] == '\0') {
			walk_fail(w, "cannot format created_at");
			return -1;
		}
		value[F_CREATED_AT] = created;
	}
	return 0;
}

/* Subscriptions are bound by routing key: an envelope that says it is
 * another type would reach endpoints that never subscribed to that type, as
 * that type. Parked rather than guessed at (README: publishing events). */
static int contradicts(const char *routing_key, const char *type, const char *what, struct walk *w)
{
	if (routing_key == NULL || strcmp(routing_key, type) == 0)
		return 0;
	if (!utf8_valid(routing_key, strlen(routing_key), NULL))
		walk_fail(w, "routing key is not valid UTF-8");
	else
		walk_fail(w,
			  "%s contradicts the routing key (publish each event with routing key "
			  "= its type)",
			  what);
	return -1;
}

/* RFC 8259 section 8.2 beyond what yajl checks: yajl lets overlong forms,
 * UTF-8 surrogates, code points over U+10FFFF and \u escapes of lone
 * surrogates through, and strict receivers refuse them. */
static int check_text(const struct ev_input *in, struct walk *w)
{
	size_t at = 0;
	enum utf8_json p = utf8_json_check(in->body ? in->body : "", in->len, &at);

	if (p == UTF8_JSON_OK)
		return 0;
	walk_fail(w, "body is not valid UTF-8 JSON: %s at byte %zu", utf8_json_problem(p), at);
	return -1;
}

enum ev_status ev_prepare(const struct ev_input *in, struct ev_event *out)
{
	struct walk w = {0};
	enum ev_status status = EV_INVALID;
	const char *value[N_STRING_FIELDS] = {NULL, NULL, NULL};
	char new_id[ID_BUF_LEN];
	char created[TIME_BUF_LEN];

	memset(out, 0, sizeof(*out));
	w.reason = out->reason;
	w.reason_len = sizeof(out->reason);

	if (in->body == NULL && in->len > 0) {
		walk_fail(&w, "no body");
		goto out;
	}
	if (in->max_body > 0 && in->len > in->max_body) {
		status = EV_TOO_LARGE;
		walk_fail(&w, "body is %zu bytes, limit %zu", in->len, in->max_body);
		goto out;
	}
	/* A raw NUL is never valid JSON; say so plainly rather than via yajl. */
	if (in->len > 0 && memchr(in->body, '\0', in->len) != NULL) {
		walk_fail(&w, "body contains a NUL byte");
		goto out;
	}
	if (check_text(in, &w) != 0 || walk_body(&w, in->len > 0 ? in->body : "", in->len) != 0)
		goto out;
	if (!w.seen[F_DATA]) {
		walk_fail(&w, "envelope has no data object");
		goto out;
	}

	for (int f = 0; f < N_STRING_FIELDS; f++)
		value[f] = w.value[f];
	if (value[F_TYPE] != NULL &&
	    contradicts(in->routing_key, value[F_TYPE], "envelope type", &w) != 0)
		goto out;
	if (value[F_ID] != NULL && value[F_TYPE] != NULL && value[F_CREATED_AT] != NULL) {
		if (copy_body(in, &w, out) != 0)
			goto out;
	} else {
		/* A type taken from the type property must agree too. */
		if (fill_missing(in, &w, value, new_id, created) != 0 ||
		    contradicts(in->routing_key, value[F_TYPE], "type property", &w) != 0 ||
		    rewrite(&w, in->body, in->len, value, &out->body, &out->len) != 0)
			goto out;
		out->rewritten = true;
	}

	out->id = dup_str(value[F_ID]);
	out->type = dup_str(value[F_TYPE]);
	if (out->id == NULL || out->type == NULL) {
		walk_fail(&w, "out of memory");
		goto out;
	}
	out->reason[0] = '\0';
	status = EV_OK;
out:
	for (int f = 0; f < N_STRING_FIELDS; f++)
		free(w.value[f]);
	if (status != EV_OK)
		ev_free(out);
	return status;
}

void ev_free(struct ev_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->body);
	free(ev->id);
	free(ev->type);
	ev->body = NULL;
	ev->id = NULL;
	ev->type = NULL;
	ev->len = 0;
	ev->rewritten = false;
}

/* SHA-1 already fed the namespace, set up once: EVP_DigestInit_ex fetches
 * the algorithm and cost more than the hash itself on every delivery. The
 * process is single-threaded; a failed setup is tried again next time. */
static EVP_MD_CTX *namespace_ctx(void)
{
	static EVP_MD_CTX *base;

	if (base == NULL) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
		    !EVP_DigestUpdate(ctx, delivery_namespace, sizeof(delivery_namespace))) {
			EVP_MD_CTX_free(ctx);
			return NULL;
		}
		base = ctx;
	}
	return base;
}

void ev_delivery_id(const char *sub, const char *event_id, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	static EVP_MD_CTX *ctx;
	EVP_MD_CTX *base = namespace_ctx();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t pos = 0;
	bool ok = false;

	if (sub == NULL)
		sub = "";
	if (event_id == NULL)
		event_id = "";
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	/* RFC 4122 section 4.3: SHA-1 of namespace then name; the name is
	 * "<sub>\n<event_id>", a separator no subscription name contains. */
	if (ctx != NULL && base != NULL && EVP_MD_CTX_copy_ex(ctx, base) &&
	    EVP_DigestUpdate(ctx, sub, strlen(sub)) && EVP_DigestUpdate(ctx, "\n", 1) &&
	    EVP_DigestUpdate(ctx, event_id, strlen(event_id)) &&
	    EVP_DigestFinal_ex(ctx, md, &md_len) && md_len >= 16)
		ok = true;
	/* Only an allocation failure inside OpenSSL gets here; the nil UUID is
	 * at least recognisable, where leftover bytes would not be. */
	if (!ok)
		memset(md, 0, 16);
	else {
		md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
		md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	}
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[pos++] = '-';
		out[pos++] = hex[md[i] >> 4];
		out[pos++] = hex[md[i] & 0x0f];
	}
	out[pos] = '\0';
}

/* The word starting at s ends at the next '.' or the end of the string. */
static size_t word_len(const char *s)
{
	const char *dot = strchr(s, '.');

	return dot != NULL ? (size_t)(dot - s) : strlen(s);
}

/* The word after the one of length wlen at s, or NULL when that was the
 * last. "a." has two words, the second empty, as in RabbitMQ. */
static const char *next_word(const char *s, size_t wlen)
{
	return s[wlen] == '.' ? s + wlen + 1 : NULL;
}

/* p and k point at the start of a word, or are NULL when no words are left.
 * '#' first tries to absorb nothing, then one word at a time. */
static bool match_words(const char *p, const char *k)
{
	size_t plen, klen;

	if (p == NULL)
		return k == NULL;
	plen = word_len(p);
	if (plen == 1 && p[0] == '#') {
		const char *rest = next_word(p, plen);

		/* "#.#" matches what "#" matches: skip the repeats. */
		while (rest != NULL && rest[0] == '#' && word_len(rest) == 1)
			rest = next_word(rest, 1);
		for (;;) {
			if (match_words(rest, k))
				return true;
			if (k == NULL)
				return false;
			k = next_word(k, word_len(k));
		}
	}
	if (k == NULL)
		return false;
	klen = word_len(k);
	if (!(plen == 1 && p[0] == '*') && (plen != klen || memcmp(p, k, plen) != 0))
		return false;
	return match_words(next_word(p, plen), next_word(k, klen));
}

bool ev_topic_match(const char *pattern, const char *key)
{
	if (pattern == NULL || key == NULL)
		return false;
	/* An empty string has no words at all: only "#" matches "". */
	return match_words(pattern[0] != '\0' ? pattern : NULL, key[0] != '\0' ? key : NULL);
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool ev_valid_pattern(const char *pattern)
{
	const char *w = pattern;
	size_t len;

	if (pattern == NULL || pattern[0] == '\0')
		return false;
	for (;;) {
		len = word_len(w);
		if (len == 0)
			return false;
		if (!(len == 1 && (w[0] == '*' || w[0] == '#'))) {
			for (size_t i = 0; i < len; i++) {
				if (!word_char(w[i]))
					return false;
			}
		}
		if (w[len] == '\0')
			return true;
		w += len + 1;
	}
}

bool ev_pattern_in_catalogue(const char *pattern)
{
	for (size_t i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++) {
		if (ev_topic_match(pattern, catalogue[i]))
			return true;
	}
	return false;
}

int ev_new_id(char *buf, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	/* 248 = 4 * 62: bytes at or above it are dropped so every character is
	 * equally likely. */
	const unsigned limit = 4 * 62;
	unsigned char rnd[32];
	size_t have = 4;

	if (buf == NULL || len < 4 + 24 + 1)
		return -1;
	memcpy(buf, "evt_", 4);
	while (have < 4 + 24) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		for (size_t i = 0; i < sizeof(rnd) && have < 4 + 24; i++) {
			if (rnd[i] < limit)
				buf[have++] = alphabet[rnd[i] % 62];
		}
	}
	buf[have] = '\0';
	return 0;
}

void ev_format_time(long long unix_s, char *buf, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (buf == NULL || len == 0)
		return;
	if ((long long)t != unix_s || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}
