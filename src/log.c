/* log: JSON lines on stderr. yajl writes the JSON so that every string is
 * escaped the same way everywhere. */
#include "hsbridge/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "hsbridge/utf8.h"

static enum log_level min_level = LOGL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

enum log_level log_get_level(void)
{
	return min_level;
}

const char *log_level_name(enum log_level level)
{
	return level >= LOGL_DEBUG && level <= LOGL_ERROR ? level_names[level] : "info";
}

bool log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

void log_timestamp(char *buf, size_t len)
{
	/* gmtime_r and strftime cost more than the rest of a log line: the
	 * seconds part is formatted once per second. Single-threaded. */
	static time_t base_sec = (time_t)-1;
	static char base[32];
	struct timespec ts;
	struct tm tm;
	int ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != base_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		/* strftime bounds the base; the millisecond part is 0..999. */
		if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			base[0] = '\0';
		base_sec = ts.tv_sec;
	}
	ms = (int)(ts.tv_nsec / 1000000L) % 1000;
	snprintf(buf, len, "%.24s.%03dZ", base, ms);
}

/* Every log line is valid UTF-8: a value that is not (a routing key or
 * message_id as a publisher sent it) is written with U+FFFD in place of
 * each bad byte. yajl escapes control characters itself. */
static void gen_str(yajl_gen g, const char *s)
{
	size_t len = strlen(s);
	char *clean;

	if (utf8_valid(s, len, NULL)) {
		yajl_gen_string(g, (const unsigned char *)s, len);
		return;
	}
	clean = malloc(3 * len + 1);
	if (!clean) {
		yajl_gen_string(g, (const unsigned char *)"?", 1);
		return;
	}
	len = utf8_sanitize(s, len, clean, 3 * len + 1);
	yajl_gen_string(g, (const unsigned char *)clean, len);
	free(clean);
}

/* Decimal digits of v into buf (at least 21 bytes); returns the length.
 * yajl_gen_integer goes through sprintf, which costs more per field than
 * the rest of its line. */
static size_t fmt_int(long long v, char *buf)
{
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char tmp[24];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	return len;
}

/* One generator for the process, cleared after each line: allocating and
 * freeing one per line was most of a line's malloc traffic. */
static yajl_gen line_gen(void)
{
	static yajl_gen g;

	if (!g)
		g = yajl_gen_alloc(NULL);
	return g;
}

void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
	char ts[40];
	char num[24];
	const unsigned char *out;
	size_t out_len;
	yajl_gen g;

	if (level < min_level)
		return;
	g = line_gen();
	if (!g)
		return;
	log_timestamp(ts, sizeof(ts));
	yajl_gen_map_open(g);
	gen_str(g, "ts");
	gen_str(g, ts);
	gen_str(g, "level");
	gen_str(g, level_names[level]);
	gen_str(g, "msg");
	gen_str(g, msg);
	for (size_t i = 0; i < n; i++) {
		if (fields[i].kind == LOGF_STR) {
			if (!fields[i].s)
				continue;
			gen_str(g, fields[i].key);
			gen_str(g, fields[i].s);
		} else {
			gen_str(g, fields[i].key);
			yajl_gen_number(g, num, fmt_int(fields[i].i, num));
		}
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &out, &out_len) == yajl_gen_status_ok) {
		/* One write per line so concurrent writers never interleave. */
		char line[8192];
		if (out_len + 1 <= sizeof(line)) {
			memcpy(line, out, out_len);
			line[out_len] = '\n';
			fwrite(line, 1, out_len + 1, stderr);
		} else {
			fwrite(out, 1, out_len, stderr);
			fputc('\n', stderr);
		}
		fflush(stderr);
	}
	yajl_gen_clear(g);
	yajl_gen_reset(g, NULL);
}
