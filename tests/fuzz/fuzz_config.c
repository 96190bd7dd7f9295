/* Fuzz harness: cfg_load (src/config*.c) on libconfig text.
 *
 * Input: the whole config file. cfg_load only reads from a path, so each
 * input is written to hsbridge.conf in a private temporary folder (made once
 * per process, removed at exit) that also holds the secret files the seeds
 * name: "secret" (a canary), "whsec" (a valid whsec_ key), "empty", "nul".
 * libFuzzer ends without running atexit handlers, so scripts/fuzz points
 * TMPDIR into .run/fuzz/config/ and clears it there.
 *
 * No side effect leaks out of a run: this program is linked with
 * -Wl,--wrap=open,--wrap=getenv, and while cfg_load runs, open() reaches
 * only files directly in that folder (anything else: EACCES, so a
 * secret_file of /dev/stdin or ../../etc/shadow neither blocks nor reads),
 * and getenv() knows only HSB_FUZZ_SECRET (the canary) and HSB_FUZZ_EMPTY.
 * (The loader's stat() and access() of a named file read no data and are
 * left alone.)
 *
 * Checked: an error is one line that starts with the path and never holds
 * the canary secret (unless the input spells it); a loaded config keeps the
 * documented bounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz.h"
#include "hsbridge/config.h"
#include "hsbridge/event.h"
#include "hsbridge/nodes.h"
#include "hsbridge/signature.h"

#define CANARY "canary-Sx7Qp2"

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
char *__real_getenv(const char *name);
char *__wrap_getenv(const char *name);

static char dir[256];
static char conf[288];
static bool sandboxed;

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	size_t n = strlen(dir);

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (sandboxed && !(strncmp(path, dir, n) == 0 && path[n] == '/' &&
			   strchr(path + n + 1, '/') == NULL && (flags & O_ACCMODE) == O_RDONLY)) {
		errno = EACCES;
		return -1;
	}
	return __real_open(path, flags, mode);
}

char *__wrap_getenv(const char *name)
{
	static char secret[] = CANARY "-env";
	static char empty[] = "";

	if (!sandboxed)
		return __real_getenv(name);
	if (strcmp(name, "HSB_FUZZ_SECRET") == 0)
		return secret;
	if (strcmp(name, "HSB_FUZZ_EMPTY") == 0)
		return empty;
	return NULL;
}

static void put(const char *name, const void *data, size_t len)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		FUZZ_FAIL("cannot write %s", path);
}

static void cleanup(void)
{
	static const char *const names[] = {"hsbridge.conf", "secret", "whsec", "empty", "nul"};
	char path[320];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	const char *tmp = __real_getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/hsb-fuzz-config.XXXXXX",
		 tmp != NULL && strlen(tmp) < 200 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		FUZZ_FAIL("mkdtemp");
	snprintf(conf, sizeof(conf), "%s/hsbridge.conf", dir);
	put("secret", CANARY "\n", sizeof(CANARY));
	put("whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", 39);
	put("empty", "", 0);
	put("nul", "a\0b", 3);
	atexit(cleanup);
}

static bool spells_canary(const uint8_t *data, size_t size)
{
	size_t n = strlen(CANARY);

	for (size_t i = 0; i + n <= size; i++) {
		if (memcmp(data + i, CANARY, n) == 0)
			return true;
	}
	return false;
}

/* A breaker that loaded is one the state machine can run. */
static void check_breaker(const struct breaker_conf *b)
{
	FUZZ_CHECK(b->failures >= 1 && b->cooldown_ms > 0 && b->max_cooldown_ms >= b->cooldown_ms);
}

/* Issue 12: a loaded subscription's custom headers are each sendable and
 * distinct whatever their case; its signing keys are whsk_ keys. */
static void check_extras(const struct cfg_sub *s)
{
	unsigned char seed[32];

	FUZZ_CHECK(s->n_headers <= 32);
	for (size_t j = 0; j < s->n_headers; j++) {
		FUZZ_CHECK(cfg_header_name_problem(s->headers[j].name) == NULL);
		FUZZ_CHECK(s->headers[j].value != NULL &&
			   cfg_header_value_problem(s->headers[j].value) == NULL);
		for (size_t k = 0; k < j; k++)
			FUZZ_CHECK(strcasecmp(s->headers[j].name, s->headers[k].name) != 0);
	}
	FUZZ_CHECK(s->has_signing_key == (s->signing_key != NULL));
	if (s->signing_key)
		FUZZ_CHECK(sig_ed25519_seed(s->signing_key, seed) == SIG_KEY_OK);
	for (size_t j = 0; j < s->n_previous_signing; j++)
		FUZZ_CHECK(sig_ed25519_seed(s->previous_signing_keys[j], seed) == SIG_KEY_OK);
}

/* Issue 12: what check may print of the egress keys holds no credentials;
 * a client certificate comes with its key and its subject; the rate is in
 * the bucket's bounds. */
static void check_egress(const struct cfg_egress *e)
{
	FUZZ_CHECK((e->proxy == NULL) == (e->proxy_shown == NULL));
	if (e->proxy_shown)
		FUZZ_CHECK(strchr(e->proxy_shown, '@') == NULL); /* no user:password@ */
	FUZZ_CHECK((e->tls_client_cert == NULL) == (e->tls_client_key == NULL));
	if (e->tls_client_cert)
		FUZZ_CHECK(e->tls_client_subject != NULL);
	FUZZ_CHECK(e->max_per_second >= 0 && e->max_per_second <= 1000000);
}

static void check_loaded(const struct cfg *c)
{
	FUZZ_CHECK(c->n_broker_urls >= 1 && c->n_broker_urls <= NODES_MAX);
	for (size_t i = 0; i < c->n_broker_urls; i++)
		FUZZ_CHECK(c->broker_urls[i] != NULL);
	FUZZ_CHECK(c->exchange != NULL && c->prefix != NULL);
	FUZZ_CHECK(c->n_delays >= 1 && c->n_delays <= CFG_MAX_DELAYS);
	for (size_t i = 0; i < c->n_delays; i++)
		FUZZ_CHECK(c->retry_delays_ms[i] > 0);
	FUZZ_CHECK(c->timeout_ms > 0 && c->max_in_flight > 0 && c->max_body_bytes > 0);
	check_breaker(&c->breaker);
	check_egress(&c->egress);
	for (size_t i = 0; i < c->n_subs; i++) {
		const struct cfg_sub *s = &c->subs[i];

		FUZZ_CHECK(s->name != NULL && strlen(s->name) <= CFG_NAME_MAX);
		FUZZ_CHECK(cfg_find_sub(c, s->name) == s);
		FUZZ_CHECK(strncmp(s->url, "http://", 7) == 0 ||
			   strncmp(s->url, "https://", 8) == 0);
		FUZZ_CHECK(s->n_events >= 1);
		for (size_t j = 0; j < s->n_events; j++)
			FUZZ_CHECK(ev_valid_pattern(s->events[j]));
		FUZZ_CHECK(s->secret != NULL && s->secret[0] != '\0');
		FUZZ_CHECK(s->timeout_ms > 0 && s->max_in_flight > 0);
		check_breaker(&s->breaker);
		check_extras(s);
		check_egress(&s->egress);
	}
	for (size_t i = 0; i < c->n_warnings; i++)
		FUZZ_CHECK(strstr(c->warnings[i], CANARY) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c = NULL;
	char err[512];

	if (dir[0] == '\0')
		setup();
	put("hsbridge.conf", data, size);
	sandboxed = true;
	if (cfg_load(conf, &c, err, sizeof(err)) == 0) {
		sandboxed = false;
		FUZZ_CHECK(c != NULL);
		check_loaded(c);
		cfg_free(c);
	} else {
		sandboxed = false;
		FUZZ_CHECK(c == NULL);
		FUZZ_CHECK(strncmp(err, conf, strlen(conf)) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		/* Unless the input itself says it, where a message may echo it. */
		if (strstr(err, CANARY) != NULL && !spells_canary(data, size))
			FUZZ_FAIL("the secret is in the error: %s", err);
	}
	return 0;
}
