/* nodes: the order of a broker URL list and the next one to try (nodes.h). */
#include "hsbridge/nodes.h"

#include <string.h>

/* Marsaglia's xorshift32: enough to spread bridges over nodes, and the
 * same seed always gives the same order (the unit tests rely on it). */
static uint32_t xorshift32(uint32_t *x)
{
	uint32_t v = *x;

	v ^= v << 13;
	v ^= v >> 17;
	v ^= v << 5;
	*x = v;
	return v;
}

void nodes_init(struct nodes *s, size_t n, uint32_t seed)
{
	/* xorshift never leaves 0. */
	uint32_t x = seed ? seed : 0x9e3779b9u;

	memset(s, 0, sizeof(*s));
	s->n = n == 0 ? 1 : n > NODES_MAX ? NODES_MAX : n;
	for (size_t i = 0; i < s->n; i++)
		s->order[i] = (unsigned char)i;
	for (size_t i = s->n - 1; i > 0; i--) {
		size_t j = xorshift32(&x) % (uint32_t)(i + 1);
		unsigned char t = s->order[i];

		s->order[i] = s->order[j];
		s->order[j] = t;
	}
}

size_t nodes_current(const struct nodes *s)
{
	return s->order[s->pos];
}

bool nodes_failed(struct nodes *s)
{
	s->pos = (s->pos + 1) % s->n;
	if (++s->failed < s->n)
		return false;
	s->failed = 0;
	return true;
}

void nodes_connected(struct nodes *s)
{
	s->failed = 0;
}

void nodes_lost(struct nodes *s)
{
	s->pos = (s->pos + 1) % s->n;
	s->failed = 0;
}

void nodes_start_at(struct nodes *s, size_t idx)
{
	for (size_t p = 0; p < s->n; p++) {
		if (s->order[p] == idx) {
			s->pos = p;
			s->failed = 0;
			return;
		}
	}
}
