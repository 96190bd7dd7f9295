/* config: durations ("30s", "1m") parsed, and their canonical labels. */
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Retry delays name queues and sit in message TTLs; a day is already long. */
#define DURATION_MAX_MS (24L * 60 * 60 * 1000)

int cfg_parse_duration(const char *s, long *ms)
{
	static const struct {
		const char *unit;
		long ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end = NULL;
	long v;
	size_t i;

	/* strtol would take a sign and leading blanks; the grammar has neither. */
	if (!s || !ms || !is_digit(s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > DURATION_MAX_MS / units[i].ms)
				return -1;
			*ms = v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

void cfg_format_duration(long ms, char *buf, size_t len)
{
	if (!buf || len == 0)
		return;
	if (ms > 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%ldh", ms / 3600000);
	else if (ms > 0 && ms % 60000 == 0)
		snprintf(buf, len, "%ldm", ms / 60000);
	else if (ms > 0 && ms % 1000 == 0)
		snprintf(buf, len, "%lds", ms / 1000);
	else
		snprintf(buf, len, "%ldms", ms);
}
