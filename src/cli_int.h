/* cli internals, shared by cli.c and the command files beside it. */
#ifndef HSBRIDGE_CLI_INT_H
#define HSBRIDGE_CLI_INT_H

#include "hsbridge/config.h"

#define CLI_MAX_OPERANDS 2

/* What the command line gives a command besides the config: its operands
 * in order (NULL when absent) and the count of its option (-1: absent). */
struct cli_args {
	const char *operand[CLI_MAX_OPERANDS];
	long limit;
};

/* The subscription called name, or NULL after saying so on stderr. */
const struct cfg_sub *cli_find_sub(const struct cfg *cfg, const char *name);

/* test-event SUB (cli_test_event.c). Returns a sysexits code. */
int cli_cmd_test_event(struct cfg **cfgp, const struct cli_args *a);

#endif
