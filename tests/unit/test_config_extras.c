/* Unit tests for a subscription's custom headers (config_headers.c, and the
 * lines webhook.c sends for them) and its Ed25519 signing keys
 * (config_signing.c): the validation tables, and the loader's errors with
 * the line each names and no value or key in any message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsbridge/config.h"
#include "hsbridge/webhook.h"

/* Values and keys no message may contain. */
#define TOKEN "Bearer sekrit-77f1c2"
#define WHSK                                                                                     \
	"whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9w" \
	"dRGg=="
#define WHSK_SEED_B64 "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2"
#define WHSK2                                                                                    \
	"whsk_TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKv" \
	"RmDA=="
#define ENV_TOKEN "HSB_TEST_HEADER_TOKEN"
#define ENV_BAD "HSB_TEST_HEADER_BAD"
#define ENV_KEY "HSB_TEST_SIGNING_KEY"

/* Line 1: broker and the start of the one subscription; its keys then
 * follow one a line from line 2. */
#define HEAD                                                                                     \
	"subscriptions = ( { name = \"a\"; url = \"http://127.0.0.1:9/h\"; events = [\"#\"]; "    \
	"secret = \"s3cret-not-shown\";\n"
#define TAIL "\n} );\n"

static char dir[64];
static char conf_path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hsb-extras-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/hsbridge.conf", dir);
	setenv(ENV_TOKEN, TOKEN, 1);
	setenv(ENV_BAD, "Bearer x\r\nX-Injected: 1", 1);
	setenv(ENV_KEY, WHSK2, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_private(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void assert_nothing_secret(const char *s)
{
	if (strstr(s, "sekrit") || strstr(s, WHSK_SEED_B64) || strstr(s, "X-Injected") ||
	    strstr(s, "s3cret"))
		fail_msg("message repeats a value or key: %s", s);
}

static struct cfg *load_ok(const char *body)
{
	char text[4096];
	struct cfg *cfg = NULL;
	char err[512] = "";

	snprintf(text, sizeof(text), "%s%s%s", HEAD, body, TAIL);
	write_private(conf_path, text);
	if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
		fail_msg("cfg_load failed: %s", err);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		assert_nothing_secret(cfg->warnings[i]);
	return cfg;
}

/* body's error names line `line` and holds fragment, nothing secret. */
static void expect_fail(const char *body, int line, const char *fragment)
{
	char text[4096];
	char prefix[256];
	struct cfg *cfg = NULL;
	char err[512] = "";

	snprintf(text, sizeof(text), "%s%s%s", HEAD, body, TAIL);
	write_private(conf_path, text);
	if (cfg_load(conf_path, &cfg, err, sizeof(err)) == 0) {
		cfg_free(cfg);
		fail_msg("loaded, but expected an error with \"%s\"", fragment);
	}
	snprintf(prefix, sizeof(prefix), "%s:%d: subscription \"a\": ", conf_path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, fragment))
		fail_msg("got \"%s\"; want prefix \"%s\" and \"%s\"", err, prefix, fragment);
	assert_nothing_secret(err);
}

static void header_names_table(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} table[] = {
	    {"Authorization", true},
	    {"X-Team", true},
	    {"x_custom*1", true},
	    {"a!#$%&'*+-.^_`|~9", true},
	    {"", false},
	    {"X Team", false},
	    {"X-Team:", false},
	    {"X-Team\r\n", false},
	    {"Caf\xc3\xa9", false},
	    {"(x)", false},
	    {"a/b", false},
	    {"webhook-id", false},
	    {"Webhook-Signature", false},
	    {"webhook-anything", false},
	    {"X-HealthSync-Signature", false},
	    {"x-healthsync-new", false},
	    {"X-HealthSyncs", true},
	    {"Content-Type", false},
	    {"CONTENT-LENGTH", false},
	    {"Content-Language", true},
	    {"Host", false},
	    {"User-Agent", false},
	    {"Expect", false},
	    {"Transfer-Encoding", false},
	    {"Connection", false},
	    {"TE", false},
	    {"Proxy-Authorization", false},
	    /* '_' counts as '-': CGI-style receivers map both to one name */
	    {"webhook_signature", false},
	    {"X_HealthSync_Signature", false},
	    {"Proxy_Authorization", false},
	    {"content_type", false},
	    {"x_custom", true},
	    {"webhook", true},
	    {"1234567890123456789012345678901234567890123456789012345678901234", true},
	    {"12345678901234567890123456789012345678901234567890123456789012345", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *p = cfg_header_name_problem(table[i].name);

		if ((p == NULL) != table[i].ok)
			fail_msg("name %zu \"%s\": %s", i, table[i].name, p ? p : "accepted");
	}
}

static void header_values_table(void **state)
{
	static const struct {
		const char *value;
		bool ok;
	} table[] = {
	    {"Bearer abc.def", true},
	    {"a\tb", true},
	    {"x", true},
	    {"caf\xc3\xa9 \x80\xff", true}, /* obs-text */
	    {"\"quoted\", (comment); a=b", true},
	    {"", false},
	    {" lead", false},
	    {"trail ", false},
	    {"\ttab", false},
	    {"a\rb", false},
	    {"a\nb", false},
	    {"a\r\nX-Injected: 1", false},
	    {"a\x01", false},
	    {"a\x1f", false},
	    {"a\x7f", false},
	};
	char *big = malloc(4098);

	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *p = cfg_header_value_problem(table[i].value);

		if ((p == NULL) != table[i].ok)
			fail_msg("value %zu: %s", i, p ? p : "accepted");
	}
	assert_non_null(big);
	memset(big, 'v', 4096);
	big[4096] = '\0';
	assert_null(cfg_header_value_problem(big));
	big[4096] = 'v';
	big[4097] = '\0';
	assert_non_null(cfg_header_value_problem(big));
	free(big);
}

static void headers_load_from_every_source(void **state)
{
	char path[160], body[512];
	struct cfg *cfg;
	const struct cfg_sub *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/api.key", dir);
	write_private(path, "key-from-file\n");
	snprintf(body, sizeof(body),
		 "headers = {\n X-Team = \"cardio\";\n Authorization = { value_env = \"%s\"; };\n"
		 " X-Api-Key = { value_file = \"api.key\"; };\n X-Plain = { value = \"p\"; };\n};",
		 ENV_TOKEN);
	cfg = load_ok(body);
	s = &cfg->subs[0];
	assert_int_equal(s->n_headers, 4);
	assert_string_equal(s->headers[0].name, "X-Team");
	assert_string_equal(s->headers[0].value, "cardio");
	assert_int_equal(s->headers[0].source, CFG_HDR_INLINE);
	assert_string_equal(s->headers[1].name, "Authorization");
	assert_string_equal(s->headers[1].value, TOKEN);
	assert_int_equal(s->headers[1].source, CFG_HDR_ENV);
	assert_string_equal(s->headers[2].value, "key-from-file");
	assert_int_equal(s->headers[2].source, CFG_HDR_FILE);
	assert_string_equal(s->headers[3].value, "p");
	assert_int_equal(s->headers[3].source, CFG_HDR_INLINE);
	cfg_free(cfg);
}

static void hostile_headers_are_refused_with_their_line(void **state)
{
	char path[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/crlf.key", dir);
	write_private(path, "Bearer sekrit\r\nX-Injected: 1\n");
	expect_fail("headers = {\n webhook-id = \"x\";\n};", 3, "headers: webhook-id starts like");
	expect_fail("headers = {\n Content-Type = \"text/plain\";\n};", 3,
		    "headers: Content-Type is a header the bridge sets");
	expect_fail("headers = {\n X-HealthSync-Event = \"x\";\n};", 3, "X-HealthSync-Event");
	expect_fail("headers = {\n X-Team = \"a\";\n x-team = \"b\";\n};", 4,
		    "headers: x-team is set twice");
	expect_fail("headers = {\n Authorization = \"Bearer sekrit\\r\\nX-Injected: 1\";\n};", 3,
		    "headers.Authorization: the value holds a CR, LF");
	expect_fail("headers = {\n Authorization = \" Bearer sekrit\";\n};", 3,
		    "starts or ends with white space");
	expect_fail("headers = {\n Authorization = \"\";\n};", 3, "the value is empty");
	expect_fail("headers = {\n Authorization = { value_env = \"" ENV_BAD "\"; };\n};", 3,
		    "headers.Authorization: the value holds a CR, LF");
	expect_fail("headers = {\n Authorization = { value_file = \"crlf.key\"; };\n};", 3,
		    "headers.Authorization: the value holds a CR, LF");
	expect_fail("headers = {\n Authorization = { value_env = \"HSB_TEST_UNSET_X\"; };\n};", 3,
		    "headers.Authorization: value_env: the environment variable HSB_TEST_UNSET_X is "
		    "not set");
	expect_fail("headers = {\n Authorization = { value_file = \"missing.key\"; };\n};", 3,
		    "cannot read value_file");
	expect_fail("headers = {\n Authorization = {\n value = \"Bearer sekrit\";\n value_env = \"" ENV_TOKEN
		    "\";\n};\n};",
		    5, "value and value_env are exclusive");
	expect_fail("headers = {\n Authorization = { };\n};", 3,
		    "one of value, value_file or value_env is required");
	expect_fail("headers = {\n Authorization = { env = \"X\"; };\n};", 3, "env");
	expect_fail("headers = {\n X-Count = 3;\n};", 3, "must be a string, or a group");
	expect_fail("headers = ( \"X-Team: a\" );", 2, "headers must be a group");
}

static void too_many_headers_are_refused(void **state)
{
	char body[2048];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "headers = {");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, " X-H%d = \"v\";", i);
	snprintf(body + n, sizeof(body) - n, " };");
	expect_fail(body, 2, "more than 32 headers");
}

/* The request carries the custom headers after the bridge's own, exactly
 * as configured; its own lines are unchanged. */
static void request_carries_custom_headers_after_its_own(void **state)
{
	struct cfg *cfg;
	struct wh_sub *w;
	struct curl_slist *h, *n;
	size_t own = 0, custom = 0;
	char body[256];

	(void)state;
	snprintf(body, sizeof(body),
		 "headers = {\n X-Team = \"cardio\";\n Authorization = { value_env = \"%s\"; };\n};",
		 ENV_TOKEN);
	cfg = load_ok(body);
	w = wh_sub_new(&cfg->subs[0]);
	assert_non_null(w);
	h = wh_request_headers(w, "document.uploaded", "5f0c6e2a-3b7d-5a4e-9c1f-2d8e7b6a4c3d", 1,
			       "{}", 2, 1709029800LL);
	wh_sub_free(w); /* the list stands on its own */
	assert_non_null(h);
	for (n = h; n; n = n->next) {
		if (strcmp(n->data, "X-Team: cardio") == 0 ||
		    strcmp(n->data, "Authorization: " TOKEN) == 0) {
			custom++;
			assert_int_equal(own, 10);
		} else {
			own++;
		}
	}
	assert_int_equal(own, 10);
	assert_int_equal(custom, 2);
	wh_headers_free(h);
	cfg_free(cfg);
}

/* A config read without its secrets (CFG_NO_SECRETS) keeps the header
 * names; nothing can be sent from it. */
static void no_secrets_keeps_names_but_cannot_send(void **state)
{
	char text[512];
	struct cfg *cfg = NULL;
	char err[512] = "";

	(void)state;
	snprintf(text, sizeof(text),
		 HEAD "headers = { Authorization = { value_env = \"HSB_TEST_UNSET_X\"; }; };" TAIL);
	write_private(conf_path, text);
	assert_int_equal(cfg_load_flags(conf_path, CFG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->subs[0].n_headers, 1);
	assert_null(cfg->subs[0].headers[0].value);
	assert_null(wh_sub_new(&cfg->subs[0]));
	cfg_free(cfg);
}

static void signing_keys_load_and_sign(void **state)
{
	char path[160], body[512];
	struct cfg *cfg;

	(void)state;
	cfg = load_ok("signing_key = \"" WHSK "\";\nprevious_signing_keys = [\"" WHSK2 "\"];");
	assert_string_equal(cfg->subs[0].signing_key, WHSK);
	assert_true(cfg->subs[0].has_signing_key);
	assert_int_equal(cfg->subs[0].n_previous_signing, 1);
	cfg_free(cfg);
	snprintf(path, sizeof(path), "%s/signing.key", dir);
	write_private(path, WHSK "\n");
	cfg = load_ok("signing_key_file = \"signing.key\";");
	assert_string_equal(cfg->subs[0].signing_key, WHSK);
	cfg_free(cfg);
	snprintf(body, sizeof(body), "signing_key_env = \"%s\";", ENV_KEY);
	cfg = load_ok(body);
	assert_string_equal(cfg->subs[0].signing_key, WHSK2);
	cfg_free(cfg);
	cfg = load_ok("active = true;");
	assert_null(cfg->subs[0].signing_key);
	assert_false(cfg->subs[0].has_signing_key);
	cfg_free(cfg);
}

static void bad_signing_keys_are_refused_with_their_line(void **state)
{
	(void)state;
	expect_fail("active = true;\nsigning_key = \"whsk_" WHSK_SEED_B64 "!\";", 3,
		    "signing_key is not an Ed25519 whsk_ key: the part after the prefix is not");
	expect_fail("signing_key = \"whsk_" WHSK_SEED_B64 "DXWpgBgrEKt9VL\";", 2,
		    "does not decode to 64 bytes");
	expect_fail("signing_key = \"whsec_" WHSK_SEED_B64 "A=\";", 2,
		    "signing_key is not an Ed25519 whsk_ key: it does not start with whsk_");
	expect_fail("signing_key = \"whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\";", 2,
		    "signing_key is a public key (whpk_)");
	expect_fail("signing_key = \"" WHSK "\";\nsigning_key_env = \"" ENV_KEY "\";", 3,
		    "signing_key and signing_key_env are exclusive");
	expect_fail("previous_signing_keys = [\"" WHSK "\"];", 2,
		    "previous_signing_keys needs a current key");
	expect_fail("signing_key = \"" WHSK "\";\nprevious_signing_keys = [\n\"" WHSK2
		    "\",\n\"whsk_" WHSK_SEED_B64 "\"];",
		    5, "previous_signing_keys[1] is not an Ed25519 whsk_ key");
	expect_fail("signing_key_file = \"nothing-here.key\";", 2, "cannot read signing_key_file");
	expect_fail("signing_key_env = \"HSB_TEST_UNSET_X\";", 2,
		    "signing_key_env: the environment variable HSB_TEST_UNSET_X is not set");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_names_table),
	    cmocka_unit_test(header_values_table),
	    cmocka_unit_test(headers_load_from_every_source),
	    cmocka_unit_test(hostile_headers_are_refused_with_their_line),
	    cmocka_unit_test(too_many_headers_are_refused),
	    cmocka_unit_test(request_carries_custom_headers_after_its_own),
	    cmocka_unit_test(no_secrets_keeps_names_but_cannot_send),
	    cmocka_unit_test(signing_keys_load_and_sign),
	    cmocka_unit_test(bad_signing_keys_are_refused_with_their_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
