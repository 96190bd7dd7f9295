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

/* Connects to the first node of broker.url that answers and opens channel
 * 1 (in confirm mode when confirm). EX_OK with *b and, when node is not
 * NULL, the index of that node's URL in *node; or EX_UNAVAILABLE after
 * saying on stderr why each node failed. */
int cli_connect_channel(const struct cfg *cfg, const char *name, bool confirm, struct brk **b,
			size_t *node);
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

/* keygen: a new whsk_ key and its whpk_ public key, one a line. The config
 * is not read (*cfgp is NULL). Returns a sysexits code. */
int cli_cmd_keygen(struct cfg **cfgp, const struct cli_args *a);
/* pubkey SUB: the whpk_ public key of SUB's signing_key, then those of its
 * previous_signing_keys (cli_keys.c). Returns a sysexits code. */
int cli_cmd_pubkey(struct cfg **cfgp, const struct cli_args *a);
/* check's lines about a subscription's v1a signing and custom headers:
 * public keys and header names, never a secret or a header value. */
void cli_print_sub_extras(const struct cfg_sub *s);
/* cli_egress.c: check's lines on certificates, proxy, rate and guard. */
void cli_print_sub_egress(const struct cfg_sub *s);

#endif
