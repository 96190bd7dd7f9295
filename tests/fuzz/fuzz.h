/* Shared by the fuzz harnesses: the libFuzzer entry point and checks that
 * turn a broken invariant into a crash libFuzzer reports (with the input). */
#ifndef HSBRIDGE_FUZZ_H
#define HSBRIDGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: invariant broken: ", __FILE__, __LINE__);                  \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FUZZ_FAIL("%s", #cond);                                                    \
	} while (0)

#endif
