/* nodes: which broker URL of a cluster's list the bridge tries next. The
 * list is tried in a shuffled order (one per process, so that several
 * bridges spread over the nodes), one URL per attempt; a pass ends when
 * every URL failed once in a row, and only then does the caller back off.
 * Pure: no I/O, no clock, no randomness of its own (the caller gives the
 * seed). A leaf: uses no other module. */
#ifndef HSBRIDGE_NODES_H
#define HSBRIDGE_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* broker.url lists at most this many URLs (the config refuses more). */
#define NODES_MAX 16

struct nodes {
	size_t n;			/* URLs in the list, 1 to NODES_MAX */
	unsigned char order[NODES_MAX]; /* a permutation of 0 .. n-1: the order of tries */
	size_t pos;			/* where in order the current URL is */
	size_t failed;			/* tries failed in a row in this pass, 0 to n - 1 */
};

/* Shuffles the indexes 0 .. n-1 of a list of n URLs (Fisher-Yates over a
 * xorshift sequence started from seed: the same seed gives the same order)
 * and makes the first of them current. n is taken as 1 when 0 and as
 * NODES_MAX when larger. */
void nodes_init(struct nodes *s, size_t n, uint32_t seed);

/* The index in the config's list of the URL to try now. */
size_t nodes_current(const struct nodes *s);

/* A try of the current URL failed: the next one in the order becomes
 * current. True when that ended a pass (each URL failed once in a row):
 * the caller waits for its backoff before the next try, which begins a new
 * pass with the URL after the one that failed last. */
bool nodes_failed(struct nodes *s);

/* A try of the current URL succeeded: it stays current, no try has failed. */
void nodes_connected(struct nodes *s);

/* The connection to the current URL was lost: the next one in the order
 * becomes current and a pass begins there, so the URL just lost is tried
 * last in it. */
void nodes_lost(struct nodes *s);

/* Makes the URL of config index idx current and begins a pass there (the
 * copy connection starts on the node the consuming one is on). An idx out
 * of range changes nothing. */
void nodes_start_at(struct nodes *s, size_t idx);

#endif
