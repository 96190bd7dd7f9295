/* cli internals, shared by cli.c and the command files beside it. */
#ifndef HSBRIDGE_CLI_INT_H
#define HSBRIDGE_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "hsbridge/config.h"

struct brk;

#define CLI_MAX_OPERANDS 2

/* What the command line gives a command besides the config: its operands
 * in order (NULL when absent) and the count of its option (-1: absent). */
struct cli_args {
	const char *operand[CLI_MAX_OPERANDS];
	long limit;
	bool json; /* --json */
	/* Everything after the command, for a command that reads its own
	 * options (logs). */
	int argc;
	char **argv;
};

/* The subscription called name, or NULL after saying so on stderr. */
const struct cfg_sub *cli_find_sub(const struct cfg *cfg, const char *name);

/* Connects to the broker and opens channel 1 (in confirm mode when
 * confirm). EX_OK with *b, or EX_UNAVAILABLE after saying why on stderr. */
int cli_connect_channel(const struct cfg *cfg, const char *name, bool confirm, struct brk **b);
/* Waits for the confirm of the one message published on channel 1, noting
 * a basic.return in *returned. EX_OK, or a sysexits code with err. */
int cli_await_confirm(struct brk *b, bool *returned, char *err, size_t errlen);

/* status [--json] (cli_status.c). Returns a sysexits code. */
int cli_cmd_status(struct cfg **cfgp, const struct cli_args *a);
/* test-event SUB (cli_test_event.c). Returns a sysexits code. */
int cli_cmd_test_event(struct cfg **cfgp, const struct cli_args *a);
/* logs SUB [--since T] [--failed] [--event ID] [--delivery UUID] [--limit N]
 * [--follow] [--json] (cli_logs.c). Returns a sysexits code. */
int cli_cmd_logs(struct cfg **cfgp, const struct cli_args *a);
/* replay SUB [--limit N] (cli_replay.c). Returns a sysexits code. */
int cli_cmd_replay(struct cfg **cfgp, const struct cli_args *a);

#endif
