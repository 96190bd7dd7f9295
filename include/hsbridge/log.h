/* log: JSON lines on stderr, one object per line (DESIGN section 7). */
#ifndef HSBRIDGE_LOG_H
#define HSBRIDGE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

enum log_kind { LOGF_STR, LOGF_INT };

/* One key/value pair of a log line. Strings are borrowed for the call. */
struct log_field {
	const char *key;
	enum log_kind kind;
	const char *s;
	long long i;
};

#define LOG_S(k, v) ((struct log_field){.key = (k), .kind = LOGF_STR, .s = (v)})
#define LOG_I(k, v) ((struct log_field){.key = (k), .kind = LOGF_INT, .i = (long long)(v)})

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "debug", "info", "warn" or "error"; false for anything else. */
bool log_parse_level(const char *name, enum log_level *out) __attribute__((warn_unused_result));
/* "debug", "info", "warn" or "error". */
const char *log_level_name(enum log_level level);

/* Writes {"ts":…,"level":…,"msg":…,<fields>} and a newline to stderr when
 * level is at or above the configured one. Fields with a NULL string value
 * are left out. Never pass a secret. */
void log_emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

#define LOG_FIELDS(...)                                                                            \
	((const struct log_field[]){__VA_ARGS__}),                                                 \
	    (sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field))

/* log_line(LOGL_INFO, "connected", LOG_S("url", u), LOG_I("subs", 3)); */
#define log_line(level, msg, ...) log_emit((level), (msg), LOG_FIELDS(__VA_ARGS__))
#define log_msg(level, msg) log_emit((level), (msg), NULL, 0)

/* ISO-8601 UTC with milliseconds, "2024-02-27T10:30:00.123Z". */
void log_timestamp(char *buf, size_t len);

#endif
