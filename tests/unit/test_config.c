/* Unit tests for config.c: every key, default, bound and error class, with
 * the exact line each error names. Configs are written to a mkdtemp dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsbridge/config.h"
#include "hsbridge/nodes.h"

/* Every test config uses this secret; no message may ever contain it. */
#define SECRET "TOPSECRET-0123456789"
/* A secret whose characters would also make an environment variable name. */
#define SECRET_ENVISH "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WHSEC_OK "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define ENV_SECRET "HSB_TEST_CONFIG_SECRET"
#define ENV_EMPTY "HSB_TEST_CONFIG_EMPTY"
#define ENV_UNSET "HSB_TEST_CONFIG_UNSET"

#define SUB_BODY "name = \"a\"; url = \"https://example.com/h\"; events = [\"document.uploaded\"]; "
/* One valid subscription on one line, with extra keys appended. */
#define ONE_SUB(extra) "subscriptions = ( { " SUB_BODY "secret = \"" SECRET "\"; " extra " } );\n"
/* Same, without a secret, so a test can choose the source. */
#define ONE_SUB_NOSECRET(extra) "subscriptions = ( { " SUB_BODY extra " } );\n"

static char dir[64];
static char conf_path[128];

static void path_in_dir(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < len);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	/* Secrets live in these files: only the tests of the mode warnings
	 * open them to others. */
	assert_int_equal(chmod(path, 0600), 0);
}

static void write_text(const char *path, const char *text)
{
	write_file(path, text, strlen(text));
}

static void write_in_dir(const char *name, const char *text)
{
	char path[160];

	path_in_dir(name, path, sizeof(path));
	write_text(path, text);
}

static void assert_no_secret(const char *s)
{
	if (strstr(s, SECRET) || strstr(s, SECRET_ENVISH))
		fail_msg("message leaks the secret: %s", s);
}

static void assert_clean_warnings(const struct cfg *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_warnings; i++) {
		assert_no_secret(cfg->warnings[i]);
		assert_null(strchr(cfg->warnings[i], '\n'));
	}
}

static struct cfg *load_ok(const char *text)
{
	struct cfg *cfg = NULL;
	char err[512] = "";

	write_text(conf_path, text);
	if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
		fail_msg("cfg_load failed: %s", err);
	assert_non_null(cfg);
	assert_clean_warnings(cfg);
	return cfg;
}

/* Loads path and asserts the one-line error "<path>:<line>: …fragment…"
 * ("<path>: …" when line is 0), with no secret in it. */
static void expect_fail_path(const char *path, int line, const char *fragment)
{
	struct cfg *cfg = NULL;
	char err[512] = "";
	char prefix[256];

	if (cfg_load(path, &cfg, err, sizeof(err)) == 0) {
		cfg_free(cfg);
		fail_msg("loaded, but expected an error with \"%s\"", fragment);
	}
	assert_null(cfg);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, fragment))
		fail_msg("got \"%s\"; want prefix \"%s\" and \"%s\"", err, prefix, fragment);
	assert_null(strchr(err, '\n'));
	assert_no_secret(err);
}

static void expect_fail(const char *text, int line, const char *fragment)
{
	write_text(conf_path, text);
	expect_fail_path(conf_path, line, fragment);
}

/* Loads and asserts exactly one warning "<path>:<line>: …fragment…". */
static void expect_one_warning(const char *text, int line, const char *fragment)
{
	struct cfg *cfg = load_ok(text);
	char prefix[256];

	assert_int_equal(cfg->n_warnings, 1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path, line);
	if (strncmp(cfg->warnings[0], prefix, strlen(prefix)) != 0 ||
	    !strstr(cfg->warnings[0], fragment))
		fail_msg("got \"%s\"; want prefix \"%s\" and \"%s\"", cfg->warnings[0], prefix,
			 fragment);
	cfg_free(cfg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hsb-test-config.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/hsbridge.conf", dir);
	setenv(ENV_SECRET, SECRET, 1);
	setenv(ENV_EMPTY, "", 1);
	unsetenv(ENV_UNSET);
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = {
	    "hsbridge.conf", "secret.txt", "crlf.txt", "two.txt", "empty.txt", "nl.txt",
	    "nul.txt",	     "big.txt",	   "bad.txt",  "abs.txt", "rel.conf",  "sub/hsb.conf"};
	char path[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_in_dir(files[i], path, sizeof(path));
		unlink(path);
	}
	path_in_dir("sub", path, sizeof(path));
	rmdir(path);
	rmdir(dir);
	return 0;
}

/* ---- whole files ---------------------------------------------------------- */

static const char full_config[] =
    "# hsbridge test config\n"								  /* 1 */
    "broker: {\n"									  /* 2 */
    "  url = \"amqps://u:pw@mq.example:5671/vh\";\n"					  /* 3 */
    "  exchange = \"hs.events:v1\";\n"							  /* 4 */
    "  prefix = \"hsb-test_1\";\n"							  /* 5 */
    "  heartbeat_s = 15;\n"								  /* 6 */
    "};\n"										  /* 7 */
    "delivery: {\n"									  /* 8 */
    "  timeout_ms = 7000;\n"								  /* 9 */
    "  retry_delays = [\"200ms\", \"90s\", \"5m\", \"2h\"];\n"				  /* 10 */
    "  max_in_flight = 32;\n"								  /* 11 */
    "  max_body_bytes = 2048;\n"							  /* 12 */
    "  delivery_limit = 7;\n"								  /* 13 */
    "};\n"										  /* 14 */
    "log: { level = \"debug\"; };\n"							  /* 15 */
    "subscriptions = (\n"								  /* 16 */
    "  {\n"										  /* 17 */
    "    name = \"clinic-portal\";\n"							  /* 18 */
    "    url = \"https://your-app.com/webhooks/healthsync\";\n"				  /* 19 */
    "    events = [\"document.uploaded\", \"analysis.completed\", \"share.accessed\"];\n" /* 20 */
    "    secret = \"" WHSEC_OK "\";\n"							  /* 21 */
    "    previous_secrets = [\"" SECRET "\", \"whsec_dGVzdA==\"];\n"			  /* 22 */
    "    active = false;\n"								  /* 23 */
    "    max_in_flight = 16;\n"								  /* 24 */
    "    timeout_ms = 3000;\n"								  /* 25 */
    "  },\n"										  /* 26 */
    "  {\n"										  /* 27 */
    "    name = \"b2\";\n"								  /* 28 */
    "    url = \"http://127.0.0.1:8080/hook?x=1\";\n"					  /* 29 */
    "    events = [\"document.*\", \"share.#\", \"#\"];\n"				  /* 30 */
    "    secret = \"" SECRET "\";\n"							  /* 31 */
    "    active = true;\n"								  /* 32 */
    "  }\n"										  /* 33 */
    ");\n";										  /* 34 */

static void full_config_reads_every_field(void **state)
{
	struct cfg *cfg;
	const struct cfg_sub *a, *b;

	(void)state;
	cfg = load_ok(full_config);
	assert_string_equal(cfg->path, conf_path);
	assert_int_equal(cfg->n_broker_urls, 1);
	assert_string_equal(cfg->broker_urls[0], "amqps://u:pw@mq.example:5671/vh");
	assert_string_equal(cfg->exchange, "hs.events:v1");
	assert_string_equal(cfg->prefix, "hsb-test_1");
	assert_int_equal(cfg->heartbeat_s, 15);
	assert_int_equal(cfg->timeout_ms, 7000);
	assert_int_equal(cfg->n_delays, 4);
	assert_int_equal(cfg->retry_delays_ms[0], 200);
	assert_int_equal(cfg->retry_delays_ms[1], 90000);
	assert_int_equal(cfg->retry_delays_ms[2], 300000);
	assert_int_equal(cfg->retry_delays_ms[3], 7200000);
	assert_int_equal(cfg->max_in_flight, 32);
	assert_int_equal(cfg->max_body_bytes, 2048);
	assert_int_equal(cfg->delivery_limit, 7);
	assert_int_equal(cfg->log_level, LOGL_DEBUG);
	assert_int_equal(cfg->n_warnings, 0);
	assert_int_equal(cfg->n_subs, 2);

	a = &cfg->subs[0];
	assert_string_equal(a->name, "clinic-portal");
	assert_string_equal(a->url, "https://your-app.com/webhooks/healthsync");
	assert_int_equal(a->n_events, 3);
	assert_string_equal(a->events[0], "document.uploaded");
	assert_string_equal(a->events[1], "analysis.completed");
	assert_string_equal(a->events[2], "share.accessed");
	assert_string_equal(a->secret, WHSEC_OK);
	assert_int_equal(a->n_previous, 2);
	assert_string_equal(a->previous_secrets[0], SECRET);
	assert_string_equal(a->previous_secrets[1], "whsec_dGVzdA==");
	assert_false(a->active);
	assert_int_equal(a->max_in_flight, 16);
	assert_int_equal(a->timeout_ms, 3000);
	assert_int_equal(a->line, 17);

	b = &cfg->subs[1];
	assert_string_equal(b->name, "b2");
	assert_string_equal(b->url, "http://127.0.0.1:8080/hook?x=1");
	assert_int_equal(b->n_events, 3);
	assert_string_equal(b->events[2], "#");
	assert_string_equal(b->secret, SECRET);
	assert_int_equal(b->n_previous, 0);
	assert_null(b->previous_secrets);
	assert_true(b->active);
	/* No overrides: the delivery values. */
	assert_int_equal(b->max_in_flight, 32);
	assert_int_equal(b->timeout_ms, 7000);
	assert_int_equal(b->line, 27);

	assert_ptr_equal(cfg_find_sub(cfg, "b2"), b);
	assert_ptr_equal(cfg_find_sub(cfg, "clinic-portal"), a);
	assert_null(cfg_find_sub(cfg, "clinic"));
	assert_null(cfg_find_sub(cfg, NULL));
	assert_null(cfg_find_sub(NULL, "b2"));
	cfg_free(cfg);
}

static void minimal_config_applies_defaults(void **state)
{
	struct cfg *cfg;
	const struct cfg_sub *s;

	(void)state;
	cfg = load_ok(ONE_SUB(""));
	assert_int_equal(cfg->n_broker_urls, 1);
	assert_string_equal(cfg->broker_urls[0], "amqp://guest:guest@127.0.0.1:5672/%2f");
	assert_string_equal(cfg->exchange, "healthsync.events");
	assert_string_equal(cfg->prefix, "hsbridge");
	assert_int_equal(cfg->heartbeat_s, 30);
	assert_int_equal(cfg->timeout_ms, 5000);
	assert_int_equal(cfg->n_delays, 4);
	assert_int_equal(cfg->retry_delays_ms[0], 60000);
	assert_int_equal(cfg->retry_delays_ms[1], 300000);
	assert_int_equal(cfg->retry_delays_ms[2], 1800000);
	assert_int_equal(cfg->retry_delays_ms[3], 3600000);
	assert_int_equal(cfg->max_in_flight, 64);
	assert_int_equal(cfg->max_body_bytes, 1048576);
	assert_int_equal(cfg->delivery_limit, 20);
	assert_int_equal(cfg->parked_max_length, 0);
	assert_int_equal(cfg->log_level, LOGL_INFO);
	assert_int_equal(cfg->n_warnings, 0);
	assert_int_equal(cfg->n_subs, 1);
	s = &cfg->subs[0];
	assert_string_equal(s->name, "a");
	assert_true(s->active);
	assert_int_equal(s->max_in_flight, 64);
	assert_int_equal(s->timeout_ms, 5000);
	assert_int_equal(s->parked_max_length, 0);
	assert_int_equal(s->n_previous, 0);
	assert_int_equal(s->line, 1);
	cfg_free(cfg);
}

static void empty_groups_apply_defaults(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok("broker: {};\ndelivery: {};\nlog: {};\n" ONE_SUB(""));
	assert_string_equal(cfg->exchange, "healthsync.events");
	assert_int_equal(cfg->n_delays, 4);
	assert_int_equal(cfg->log_level, LOGL_INFO);
	cfg_free(cfg);
}

static void subscription_overrides_resolve_against_delivery(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok(
	    "delivery: { timeout_ms = 900; max_in_flight = 3; parked_max_length = 50; };\n"
	    "subscriptions = (\n"
	    "  { " SUB_BODY "secret = \"x\"; timeout_ms = 100; parked_max_length = 0; },\n"
	    "  { name = \"b\"; url = \"https://e.com/\"; events = [\"#\"]; secret = \"x\"; "
	    "max_in_flight = 7; }\n"
	    ");\n");
	assert_int_equal(cfg->subs[0].timeout_ms, 100);
	assert_int_equal(cfg->subs[0].max_in_flight, 3);
	assert_int_equal(cfg->subs[0].parked_max_length, 0);
	assert_int_equal(cfg->subs[1].timeout_ms, 900);
	assert_int_equal(cfg->subs[1].max_in_flight, 7);
	assert_int_equal(cfg->subs[1].parked_max_length, 50);
	assert_int_equal(cfg->subs[1].line, 4);
	cfg_free(cfg);
}

static void empty_subscription_list_warns_no_subscriptions(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_one_warning("# nothing yet\nsubscriptions = ();\n", 2, "no subscriptions");
	cfg = load_ok("subscriptions = [];\n");
	assert_int_equal(cfg->n_subs, 0);
	assert_null(cfg->subs);
	assert_null(cfg_find_sub(cfg, "a"));
	assert_int_equal(cfg->n_warnings, 1);
	cfg_free(cfg);
}

static void missing_subscriptions_is_an_error_without_line(void **state)
{
	(void)state;
	expect_fail("broker: {};\n", 0, "subscriptions is required");
	expect_fail("", 0, "subscriptions is required");
}

static void unreadable_file_reports_strerror(void **state)
{
	char path[160];
	char err[512];
	char want[256];
	struct cfg *cfg = (struct cfg *)&cfg;

	(void)state;
	path_in_dir("does-not-exist.conf", path, sizeof(path));
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
	assert_string_equal(err, want);
	/* A directory opens but cannot be read. */
	assert_int_equal(cfg_load(dir, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(err, want);
}

static void nul_byte_in_file_is_an_error(void **state)
{
	static const char text[] = ONE_SUB("") "\0# hidden\n";

	(void)state;
	write_file(conf_path, text, sizeof(text) - 1);
	expect_fail_path(conf_path, 0, "NUL");
}

static void oversized_file_is_an_error(void **state)
{
	size_t len = 1024 * 1024 + 1;
	char *big = malloc(len);

	(void)state;
	assert_non_null(big);
	memset(big, '\n', len);
	write_file(conf_path, big, len);
	free(big);
	expect_fail_path(conf_path, 0, "larger than");
}

static void syntax_error_names_its_line(void **state)
{
	(void)state;
	expect_fail("broker: {\n  url = \"amqp://x\";\n  exchange = = \"e\";\n};\n", 3,
		    "syntax error");
	expect_fail("broker: {\n  url = \"amqp://x\";\n  exchange = ;\n};\n", 3, "syntax error");
	expect_fail("log: { level = \"info\"; };\nsubscriptions = ( { name = \"a\" } ;\n", 2,
		    "syntax error");
}

static void duplicate_key_is_an_error_with_its_line(void **state)
{
	(void)state;
	expect_fail("log: { level = \"info\"; };\n"
		    "log: { level = \"debug\"; };\n" ONE_SUB(""),
		    2, "duplicate setting");
}

static void mixed_array_is_an_error_with_its_line(void **state)
{
	(void)state;
	expect_fail("delivery: {\n  retry_delays = [\"1m\",\n 5];\n};\n" ONE_SUB(""), 3,
		    "mismatched");
}

static void include_directive_is_rejected(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_fail("# a\n@include \"other.conf\"\n" ONE_SUB(""), 2, "@include is not supported");
	/* Inside a string or a comment it is just text. */
	cfg = load_ok("# @include \"x\"\n/* @include\n */ // @include\n" ONE_SUB(
	    "previous_secrets = [\"@include\"];"));
	assert_string_equal(cfg->subs[0].previous_secrets[0], "@include");
	cfg_free(cfg);
}

/* ---- unknown keys --------------------------------------------------------- */

static void unknown_top_level_key_names_its_line(void **state)
{
	(void)state;
	expect_fail("broker: {};\n\nbrokr: {};\n" ONE_SUB(""), 3, "unknown key \"brokr\"");
}

static void unknown_key_in_broker_names_its_line(void **state)
{
	(void)state;
	expect_fail("broker: {\n  url = \"amqp://h\";\n  hearbeat_s = 5;\n};\n" ONE_SUB(""), 3,
		    "unknown key \"broker.hearbeat_s\"");
}

static void unknown_key_in_delivery_names_its_line(void **state)
{
	(void)state;
	expect_fail("delivery: {\n  timeout_ms = 5;\n\n  retries = 3;\n};\n" ONE_SUB(""), 4,
		    "unknown key \"delivery.retries\"");
}

static void unknown_key_in_log_names_its_line(void **state)
{
	(void)state;
	expect_fail("log: {\n  level = \"info\";\n  format = \"json\";\n};\n" ONE_SUB(""), 3,
		    "unknown key \"log.format\"");
}

static void unknown_key_in_subscription_names_its_line(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n"
		    "  {\n"
		    "    " SUB_BODY "\n"
		    "    secret = \"" SECRET "\";\n"
		    "    max_inflight = 3;\n"
		    "  }\n"
		    ");\n",
		    5, "subscription \"a\": unknown key \"max_inflight\"");
}

static void unknown_key_error_lists_the_known_keys(void **state)
{
	(void)state;
	expect_fail("log: { lvl = \"info\"; };\n" ONE_SUB(""), 1, "(expected one of: level)");
}

/* ---- types ---------------------------------------------------------------- */

static void sections_must_be_groups(void **state)
{
	(void)state;
	expect_fail("broker = \"amqp://x\";\n" ONE_SUB(""), 1, "broker must be a group");
	expect_fail("\ndelivery = (1);\n" ONE_SUB(""), 2, "delivery must be a group");
	expect_fail("log = \"info\";\n" ONE_SUB(""), 1, "log must be a group");
}

static void subscriptions_must_be_a_list(void **state)
{
	(void)state;
	expect_fail("subscriptions = { name = \"a\"; };\n", 1, "subscriptions must be a list");
	expect_fail("\nsubscriptions = \"a\";\n", 2, "subscriptions must be a list");
}

static void subscription_entry_must_be_a_group(void **state)
{
	(void)state;
	/* libconfig dates a scalar by its lookahead token, so keep it on the line. */
	expect_fail("subscriptions = (\n  { " SUB_BODY "secret = \"x\"; },\n  \"b\" );\n", 3,
		    "each entry of subscriptions must be a group");
	expect_fail("subscriptions = [ \"a\" ];\n", 1, "must be a group");
}

struct type_case {
	const char *text;
	int line;
	const char *fragment;
};

static void wrong_types_are_errors(void **state)
{
	static const struct type_case cases[] = {
	    {"broker: { heartbeat_s = 1.5; };\n" ONE_SUB(""), 1,
	     "broker.heartbeat_s must be an integer between 0 and 3600"},
	    {"broker: { heartbeat_s = \"30\"; };\n" ONE_SUB(""), 1,
	     "broker.heartbeat_s must be an integer"},
	    {"broker: { heartbeat_s = true; };\n" ONE_SUB(""), 1,
	     "broker.heartbeat_s must be an integer"},
	    {"broker: { url = 5; };\n" ONE_SUB(""), 1, "broker.url must be a string"},
	    {"broker: { exchange = [\"x\"]; };\n" ONE_SUB(""), 1,
	     "broker.exchange must be a string"},
	    {"broker: { prefix = { a = 1; }; };\n" ONE_SUB(""), 1,
	     "broker.prefix must be a string"},
	    {"delivery: { timeout_ms = 5e3; };\n" ONE_SUB(""), 1,
	     "delivery.timeout_ms must be an integer between 1 and 600000"},
	    {"delivery: { max_in_flight = \"64\"; };\n" ONE_SUB(""), 1,
	     "delivery.max_in_flight must be an integer"},
	    {"delivery: { max_body_bytes = 1.0; };\n" ONE_SUB(""), 1,
	     "delivery.max_body_bytes must be an integer"},
	    {"delivery: { delivery_limit = false; };\n" ONE_SUB(""), 1,
	     "delivery.delivery_limit must be an integer"},
	    {"delivery: { retry_delays = \"1m\"; };\n" ONE_SUB(""), 1,
	     "delivery.retry_delays must be an array"},
	    {"delivery: { retry_delays = [60000]; };\n" ONE_SUB(""), 1,
	     "delivery.retry_delays must be an array"},
	    {"delivery: { retry_delays = ( \"1m\" ); };\n" ONE_SUB(""), 1,
	     "delivery.retry_delays must be an array"},
	    {"log: { level = 1; };\n" ONE_SUB(""), 1, "log.level must be one of"},
	    {"subscriptions = ( { name = 5; } );\n", 1, "subscription: name must be a string"},
	    {ONE_SUB("active = \"yes\";"), 1, "subscription \"a\": active must be true or false"},
	    {ONE_SUB("active = 1;"), 1, "subscription \"a\": active must be true or false"},
	    {ONE_SUB("max_in_flight = 2.0;"), 1,
	     "subscription \"a\": max_in_flight must be an integer between 1 and 65535"},
	    {ONE_SUB("timeout_ms = \"3000\";"), 1,
	     "subscription \"a\": timeout_ms must be an integer between 1 and 600000"},
	    {ONE_SUB("previous_secrets = \"old\";"), 1,
	     "subscription \"a\": previous_secrets must be an array"},
	    {ONE_SUB("previous_secrets = [1, 2];"), 1,
	     "subscription \"a\": previous_secrets must be an array"},
	    {"subscriptions = ( { name = \"a\"; url = 5; } );\n", 1,
	     "subscription \"a\": url must be a string"},
	    {"subscriptions = ( { name = \"a\"; url = \"https://e.com\"; events = "
	     "\"document.uploaded\"; } );\n",
	     1, "subscription \"a\": events must be an array"},
	    {"subscriptions = ( { name = \"a\"; url = \"https://e.com\"; events = "
	     "(\"document.uploaded\"); } );\n",
	     1, "subscription \"a\": events must be an array"},
	    {ONE_SUB_NOSECRET("secret = 42;"), 1,
	     "subscription \"a\": secret must be a non-empty string"},
	    {ONE_SUB_NOSECRET("secret_file = [\"f\"];"), 1,
	     "subscription \"a\": secret_file must be a non-empty string"},
	    {ONE_SUB_NOSECRET("secret_env = true;"), 1,
	     "subscription \"a\": secret_env must be a non-empty string"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail(cases[i].text, cases[i].line, cases[i].fragment);
}

/* ---- integer bounds ------------------------------------------------------- */

struct bound_case {
	const char *section; /* "broker", "delivery" or "sub" */
	const char *key;
	const char *value;
	long long want; /* the value read back, when ok */
	bool ok;
	const char *range; /* "between 0 and 3600" */
};

static long long read_back(const struct cfg *cfg, const char *section, const char *key)
{
	if (strcmp(section, "sub") == 0)
		return strcmp(key, "timeout_ms") == 0	     ? cfg->subs[0].timeout_ms
		       : strcmp(key, "parked_max_length") == 0 ? cfg->subs[0].parked_max_length
							       : cfg->subs[0].max_in_flight;
	if (strcmp(key, "parked_max_length") == 0)
		return cfg->parked_max_length;
	if (strcmp(key, "heartbeat_s") == 0)
		return cfg->heartbeat_s;
	if (strcmp(key, "timeout_ms") == 0)
		return cfg->timeout_ms;
	if (strcmp(key, "max_in_flight") == 0)
		return cfg->max_in_flight;
	if (strcmp(key, "max_body_bytes") == 0)
		return (long long)cfg->max_body_bytes;
	return cfg->delivery_limit;
}

static void integer_bounds_are_enforced(void **state)
{
	static const struct bound_case cases[] = {
	    {"broker", "heartbeat_s", "0", 0, true, NULL},
	    {"broker", "heartbeat_s", "3600", 3600, true, NULL},
	    {"broker", "heartbeat_s", "-1", 0, false, "between 0 and 3600"},
	    {"broker", "heartbeat_s", "3601", 0, false, "between 0 and 3600"},
	    {"delivery", "timeout_ms", "1", 1, true, NULL},
	    {"delivery", "timeout_ms", "600000", 600000, true, NULL},
	    {"delivery", "timeout_ms", "0", 0, false, "between 1 and 600000"},
	    {"delivery", "timeout_ms", "600001", 0, false, "between 1 and 600000"},
	    {"delivery", "max_in_flight", "1", 1, true, NULL},
	    {"delivery", "max_in_flight", "65535", 65535, true, NULL},
	    {"delivery", "max_in_flight", "0", 0, false, "between 1 and 65535"},
	    {"delivery", "max_in_flight", "65536", 0, false, "between 1 and 65535"},
	    {"delivery", "max_body_bytes", "1", 1, true, NULL},
	    {"delivery", "max_body_bytes", "134217728", 134217728, true, NULL},
	    {"delivery", "max_body_bytes", "0", 0, false, "between 1 and 134217728"},
	    {"delivery", "max_body_bytes", "134217729", 0, false, "between 1 and 134217728"},
	    {"delivery", "delivery_limit", "1", 1, true, NULL},
	    {"delivery", "delivery_limit", "1000", 1000, true, NULL},
	    {"delivery", "delivery_limit", "0", 0, false, "between 1 and 1000"},
	    {"delivery", "delivery_limit", "1001", 0, false, "between 1 and 1000"},
	    {"delivery", "delivery_limit", "-5", 0, false, "between 1 and 1000"},
	    {"sub", "max_in_flight", "1", 1, true, NULL},
	    {"sub", "max_in_flight", "65535", 65535, true, NULL},
	    {"sub", "max_in_flight", "0", 0, false, "between 1 and 65535"},
	    {"sub", "max_in_flight", "65536", 0, false, "between 1 and 65535"},
	    {"sub", "timeout_ms", "1", 1, true, NULL},
	    {"sub", "timeout_ms", "600000", 600000, true, NULL},
	    {"sub", "timeout_ms", "0", 0, false, "between 1 and 600000"},
	    {"sub", "timeout_ms", "600001", 0, false, "between 1 and 600000"},
	    {"delivery", "parked_max_length", "0", 0, true, NULL},
	    {"delivery", "parked_max_length", "1", 1, true, NULL},
	    {"delivery", "parked_max_length", "1000000000", 1000000000, true, NULL},
	    {"delivery", "parked_max_length", "-1", 0, false, "between 0 and 1000000000"},
	    {"delivery", "parked_max_length", "1000000001", 0, false, "between 0 and 1000000000"},
	    {"sub", "parked_max_length", "0", 0, true, NULL},
	    {"sub", "parked_max_length", "2", 2, true, NULL},
	    {"sub", "parked_max_length", "-1", 0, false, "between 0 and 1000000000"},
	    {"sub", "parked_max_length", "1000000001", 0, false, "between 0 and 1000000000"},
	    /* Hexadecimal and 64-bit literals are integers too. */
	    {"delivery", "max_body_bytes", "0x800", 2048, true, NULL},
	    {"delivery", "timeout_ms", "3000L", 3000, true, NULL},
	    {"delivery", "timeout_ms", "3000000000L", 0, false, "between 1 and 600000"},
	};
	char text[1024];
	char fragment[160];
	size_t i;
	int line;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bound_case *c = &cases[i];

		if (strcmp(c->section, "sub") == 0) {
			snprintf(text, sizeof(text),
				 "subscriptions = (\n  {\n    %s\n    secret = \"%s\";\n"
				 "    %s = %s;\n  }\n);\n",
				 SUB_BODY, SECRET, c->key, c->value);
			snprintf(fragment, sizeof(fragment),
				 "subscription \"a\": %s must be an integer %s", c->key,
				 c->range ? c->range : "");
			line = 5;
		} else {
			snprintf(text, sizeof(text), "%s: {\n  %s = %s;\n};\n%s", c->section,
				 c->key, c->value, ONE_SUB(""));
			snprintf(fragment, sizeof(fragment), "%s.%s must be an integer %s",
				 c->section, c->key, c->range ? c->range : "");
			line = 2;
		}
		if (c->ok) {
			struct cfg *cfg = load_ok(text);

			assert_int_equal(read_back(cfg, c->section, c->key), c->want);
			cfg_free(cfg);
		} else {
			expect_fail(text, line, fragment);
		}
	}
}

static void integer_literals_that_libconfig_would_truncate_are_rejected(void **state)
{
	static const char *const values[] = {
	    "4294967297",
	    "4294967296",
	    "2147483648",
	    "-2147483649",
	    "-4294967295",
	    "99999999999999999999",
	    "0x100000001",
	    "0xFFFFFFFF",
	    "99999999999999999999L",
	    ("123456789012345678901234567890123456789012345678901234567890"
	     "1234567890123456789012345678901234567890")};
	char text[512];
	struct cfg *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), "# x\ndelivery: { timeout_ms = %s; };\n%s", values[i],
			 ONE_SUB(""));
		expect_fail(text, 2, "timeout_ms: integer ");
		expect_fail(text, 2, "is out of range");
	}
	/* Digits inside names, strings and comments are not numbers. */
	cfg = load_ok(
	    "# 99999999999\n/* 4294967297 */\n" ONE_SUB("previous_secrets = [\"4294967297\"];"));
	cfg_free(cfg);
}

/* ---- broker ----------------------------------------------------------------- */

static void broker_url_needs_amqp_scheme_and_is_never_repeated(void **state)
{
	struct cfg *cfg;
	char err[512];

	(void)state;
	expect_fail("broker: {\n  url = \"http://guest:" SECRET "@h/\";\n};\n" ONE_SUB(""), 2,
		    "broker.url must start with amqp:// or amqps://");
	write_text(conf_path, "broker: { url = \"AMQP://guest:hunter2@h/\"; };\n" ONE_SUB(""));
	assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	assert_null(strstr(err, "hunter2"));
	expect_fail("broker: { url = \"\"; };\n" ONE_SUB(""), 1, "broker.url must start with");
	cfg = load_ok("broker: { url = \"amqp://h\"; };\n" ONE_SUB(""));
	assert_int_equal(cfg->n_broker_urls, 1);
	assert_string_equal(cfg->broker_urls[0], "amqp://h");
	cfg_free(cfg);
}

static void broker_url_that_amqp_cannot_parse_is_an_error_on_its_line(void **state)
{
	(void)state;
	/* An unescaped / in the password would make the connection fail with
	 * exit 69 at run time; it is a configuration error, found by check. */
	expect_fail("broker: {\n  url = \"amqp://guest:pa/" SECRET "@h:5672/v\";\n};\n" ONE_SUB(""),
		    2, "broker.url is not a valid AMQP URL");
	expect_fail("broker: {\n\n  url = \"amqp://h:notaport/\";\n};\n" ONE_SUB(""), 3,
		    "broker.url is not a valid AMQP URL");
}

/* broker.url as the nodes of a cluster: a libconfig array or list of
 * strings, kept in the file's order. */
static void broker_url_list_keeps_every_url_in_file_order(void **state)
{
	static const char *const forms[] = {
	    "broker: { url = [\"amqp://h1:5672/%2f\", \"amqp://h2:5673/v\", \"amqp://h3\"]; };\n",
	    "broker: {\n url = (\n  \"amqp://h1:5672/%2f\",\n  \"amqp://h2:5673/v\",\n"
	    "  \"amqp://h3\"\n );\n};\n",
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct cfg *cfg;

		snprintf(text, sizeof(text), "%s%s", forms[i], ONE_SUB(""));
		cfg = load_ok(text);
		assert_int_equal(cfg->n_broker_urls, 3);
		assert_string_equal(cfg->broker_urls[0], "amqp://h1:5672/%2f");
		assert_string_equal(cfg->broker_urls[1], "amqp://h2:5673/v");
		assert_string_equal(cfg->broker_urls[2], "amqp://h3");
		cfg_free(cfg);
	}
	{
		struct cfg *cfg = load_ok("broker: { url = [\"amqp://only\"]; };\n" ONE_SUB(""));

		assert_int_equal(cfg->n_broker_urls, 1);
		assert_string_equal(cfg->broker_urls[0], "amqp://only");
		cfg_free(cfg);
	}
}

/* Each element is checked like a single URL; the error names the element
 * and its line, never the password. */
static void broker_url_list_errors_name_the_element_and_its_line(void **state)
{
	char text[2048];
	size_t len = 0;

	(void)state;
	expect_fail("broker: {\n  url = [];\n};\n" ONE_SUB(""), 2,
		    "broker.url must list at least one URL");
	expect_fail("broker: {\n  url = ();\n};\n" ONE_SUB(""), 2,
		    "broker.url must list at least one URL");
	expect_fail("broker: {\n  url = (\n    \"amqp://h1\",\n    5672\n  );\n};\n" ONE_SUB(""), 4,
		    "broker.url element 2 must be a string");
	expect_fail("broker: {\n  url = (\"amqp://h1\", { host = \"h2\"; });\n};\n" ONE_SUB(""), 2,
		    "broker.url element 2 must be a string");
	expect_fail("broker: {\n  url = (\"amqp://h1\", [\"amqp://h2\"]);\n};\n" ONE_SUB(""), 2,
		    "broker.url element 2 must be a string");
	/* libconfig gives a string element the line of the token after it: the
	 * comma, or the bracket that closes the list. */
	expect_fail("broker: {\n  url = [\n    \"amqp://guest:guest@h1/\",\n"
		    "    \"amqp://u:pa/" SECRET
		    "@h2:5672/v\",\n    \"amqp://h3\" ];\n};\n" ONE_SUB(""),
		    4, "broker.url element 2 is not a valid AMQP URL");
	expect_fail("broker: {\n  url = (\n    \"amqp://h1\",\n    \"amqp://h2\",\n"
		    "    \"http://u:" SECRET "@h3/\");\n};\n" ONE_SUB(""),
		    5, "broker.url element 3 must start with amqp:// or amqps://");
	expect_fail("broker: {\n  url = 5672;\n};\n" ONE_SUB(""), 2,
		    "broker.url must be a string or a list of strings");
	expect_fail("broker: {\n  url = { host = \"h\"; };\n};\n" ONE_SUB(""), 2,
		    "broker.url must be a string or a list of strings");
	len += (size_t)snprintf(text + len, sizeof(text) - len, "broker: {\n  url = [");
	for (int i = 0; i < NODES_MAX + 1; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"amqp://h%d\"",
					i ? ", " : "", i);
	snprintf(text + len, sizeof(text) - len, "];\n};\n" ONE_SUB(""));
	expect_fail(text, 2, "broker.url lists 17 URLs; at most 16");
}

static void broker_ca_file_must_be_readable_and_is_kept(void **state)
{
	struct cfg *cfg;
	char text[512];
	char ca[160];

	(void)state;
	expect_fail("broker: {\n  ca_file = \"/nonexistent/ca.pem\";\n};\n" ONE_SUB(""), 2,
		    "broker.ca_file must name a readable PEM file");
	expect_fail("broker: {\n  ca_file = 3;\n};\n" ONE_SUB(""), 2, "broker.ca_file");
	path_in_dir("ca.pem", ca, sizeof(ca));
	write_text(ca, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	snprintf(text, sizeof(text), "broker: { url = \"amqps://h/\"; ca_file = \"%s\"; };\n%s", ca,
		 ONE_SUB(""));
	cfg = load_ok(text);
	assert_string_equal(cfg->ca_file, ca);
	cfg_free(cfg);
	cfg = load_ok(ONE_SUB(""));
	assert_null(cfg->ca_file);
	cfg_free(cfg);
}

static void broker_management_url_must_be_http_and_is_kept(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_fail("broker: {\n  management_url = \"ftp://h:15672\";\n};\n" ONE_SUB(""), 2,
		    "broker.management_url must start with http:// or https://");
	cfg =
	    load_ok("broker: { management_url = \"https://mq.internal:15671/\"; };\n" ONE_SUB(""));
	assert_string_equal(cfg->management_url, "https://mq.internal:15671/");
	cfg_free(cfg);
	cfg = load_ok(ONE_SUB(""));
	assert_null(cfg->management_url);
	cfg_free(cfg);
}

static void exchange_and_prefix_charset_is_enforced(void **state)
{
	static const char *const bad[] = {"", "has space", "slash/y", "star*", "ümlaut", "a\\nb"};
	char text[512];
	char long_name[300];
	struct cfg *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "broker: {\n  exchange = \"%s\";\n};\n%s", bad[i],
			 ONE_SUB(""));
		expect_fail(text, 2,
			    "broker.exchange must be 1 to 255 characters of [A-Za-z0-9._:-]");
		snprintf(text, sizeof(text), "broker: {\n\n  prefix = \"%s\";\n};\n%s", bad[i],
			 ONE_SUB(""));
		expect_fail(text, 3,
			    "broker.prefix must be 1 to 127 characters of [A-Za-z0-9._:-]");
	}
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	snprintf(text, sizeof(text), "broker: { exchange = \"%s\"; };\n%s", long_name, ONE_SUB(""));
	expect_fail(text, 1, "broker.exchange must be 1 to 255");
	long_name[255] = '\0';
	snprintf(text, sizeof(text), "broker: { exchange = \"%s\"; };\n%s", long_name, ONE_SUB(""));
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->exchange), 255);
	cfg_free(cfg);
	long_name[128] = '\0';
	snprintf(text, sizeof(text), "broker: { prefix = \"%s\"; };\n%s", long_name, ONE_SUB(""));
	expect_fail(text, 1, "broker.prefix must be 1 to 127");

	cfg =
	    load_ok("broker: { exchange = \"A-z_0.9:x\"; prefix = \"p:q.r-s_T\"; };\n" ONE_SUB(""));
	assert_string_equal(cfg->exchange, "A-z_0.9:x");
	assert_string_equal(cfg->prefix, "p:q.r-s_T");
	cfg_free(cfg);
}

/* ---- delivery.retry_delays ---------------------------------------------- */

static void retry_delay_that_is_not_a_duration_names_its_element_line(void **state)
{
	(void)state;
	expect_fail(
	    "delivery: {\n  retry_delays = [\"1m\",\n    \"5 m\",\n    \"1h\"];\n};\n" ONE_SUB(""),
	    3, "delivery.retry_delays: \"5 m\" is not a duration");
	expect_fail("delivery: { retry_delays = [\"0s\"]; };\n" ONE_SUB(""), 1,
		    "is not a duration");
	expect_fail("delivery: { retry_delays = [\"25h\"]; };\n" ONE_SUB(""), 1,
		    "is not a duration");
	expect_fail("delivery: { retry_delays = [\"\"]; };\n" ONE_SUB(""), 1, "is not a duration");
}

static void duplicate_retry_delays_are_an_error(void **state)
{
	(void)state;
	expect_fail(
	    "delivery: {\n  retry_delays = [\"1m\", \"5m\",\n    \"60s\"];\n};\n" ONE_SUB(""), 3,
	    "delivery.retry_delays: \"60s\" repeats delay 1 (1m)");
	expect_fail("delivery: { retry_delays = [\"3600000ms\", \"1h\"]; };\n" ONE_SUB(""), 1,
		    "\"1h\" repeats delay 1 (1h)");
	expect_fail("delivery: { retry_delays = [\"30s\", \"30s\"]; };\n" ONE_SUB(""), 1,
		    "repeats delay 1 (30s)");
}

static void retry_delays_hold_one_to_sixteen_entries(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_fail("delivery: {\n  retry_delays = [];\n};\n" ONE_SUB(""), 2,
		    "delivery.retry_delays must hold 1 to 16 durations");
	expect_fail(
	    "delivery: { retry_delays = [\"1s\",\"2s\",\"3s\",\"4s\",\"5s\",\"6s\",\"7s\","
	    "\"8s\",\"9s\",\"10s\",\"11s\",\"12s\",\"13s\",\"14s\",\"15s\",\"16s\",\"17s\"]; "
	    "};\n" ONE_SUB(""),
	    1, "must hold 1 to 16 durations");
	cfg =
	    load_ok("delivery: { retry_delays = [\"1s\",\"2s\",\"3s\",\"4s\",\"5s\",\"6s\",\"7s\","
		    "\"8s\",\"9s\",\"10s\",\"11s\",\"12s\",\"13s\",\"14s\",\"15s\",\"16s\"]; "
		    "};\n" ONE_SUB(""));
	assert_int_equal(cfg->n_delays, 16);
	assert_int_equal(cfg->retry_delays_ms[15], 16000);
	cfg_free(cfg);
	cfg = load_ok("delivery: { retry_delays = [\"10s\"]; };\n" ONE_SUB(""));
	assert_int_equal(cfg->n_delays, 1);
	assert_int_equal(cfg->retry_delays_ms[0], 10000);
	cfg_free(cfg);
}

/* ---- log ------------------------------------------------------------------ */

static void log_level_accepts_the_four_names(void **state)
{
	static const struct {
		const char *name;
		enum log_level level;
	} ok[] = {
	    {"debug", LOGL_DEBUG}, {"info", LOGL_INFO}, {"warn", LOGL_WARN}, {"error", LOGL_ERROR}};
	static const char *const bad[] = {"", "INFO", "warning", "trace", "info "};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cfg *cfg;

		snprintf(text, sizeof(text), "log: { level = \"%s\"; };\n%s", ok[i].name,
			 ONE_SUB(""));
		cfg = load_ok(text);
		assert_int_equal(cfg->log_level, ok[i].level);
		cfg_free(cfg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "log: {\n  level = \"%s\";\n};\n%s", bad[i],
			 ONE_SUB(""));
		expect_fail(text, 2,
			    "log.level must be one of \"debug\", \"info\", \"warn\", \"error\"");
	}
}

/* ---- subscription names --------------------------------------------------- */

static void subscription_without_name_is_an_error_at_its_line(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    url = \"https://e.com\";\n  }\n);\n", 2,
		    "subscription: name is required");
}

static void bad_subscription_names_are_rejected(void **state)
{
	static const char *const bad[] = {"",	 "Upper",  "-lead", "_lead", "a b",
					  "a.b", "caf\\u", "a/b",   "ab\\n", "x!"};
	char text[512];
	char name[80];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(
		    text, sizeof(text),
		    "subscriptions = (\n  {\n    name = \"%s\";\n    url = \"https://e.com\";\n"
		    "  }\n);\n",
		    bad[i]);
		expect_fail(text, 3, "must match [a-z0-9][a-z0-9_-]{0,63}");
	}
	memset(name, 'n', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "subscriptions = ( { name = \"%s\"; } );\n", name);
	expect_fail(text, 1, "must match");
}

static void good_subscription_names_are_accepted(void **state)
{
	static const char *const good[] = {"0", "a", "a_b-c", "9lives", "x-", "y_"};
	char text[512];
	char name[80];
	struct cfg *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "subscriptions = ( { name = \"%s\"; url = \"https://e.com\"; events = "
			 "[\"#\"]; secret = \"s\"; } );\n",
			 good[i]);
		cfg = load_ok(text);
		assert_string_equal(cfg->subs[0].name, good[i]);
		cfg_free(cfg);
	}
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text),
		 "subscriptions = ( { name = \"%s\"; url = \"https://e.com\"; events = [\"#\"]; "
		 "secret = \"s\"; } );\n",
		 name);
	cfg = load_ok(text);
	assert_int_equal(strlen(cfg->subs[0].name), CFG_NAME_MAX);
	assert_non_null(cfg_find_sub(cfg, name));
	cfg_free(cfg);
}

static void duplicate_name_errors_at_second_line_naming_first(void **state)
{
	(void)state;
	expect_fail(
	    "subscriptions = (\n"
	    "  { " SUB_BODY "secret = \"x\"; },\n"
	    "  { name = \"b\"; url = \"https://e.com\"; events = [\"#\"]; secret = \"x\"; },\n"
	    "  {\n"
	    "    name = \"a\";\n"
	    "  }\n"
	    ");\n",
	    5, "subscription \"a\": name is already used by the subscription at line 2");
}

/* ---- subscription urls ---------------------------------------------------- */

static void subscription_url_is_required(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    name = \"clinic-portal\";\n"
		    "    events = [\"#\"];\n  }\n);\n",
		    2, "subscription \"clinic-portal\": url is required");
}

static void subscription_url_needs_http_scheme(void **state)
{
	static const char *const bad[] = {"ftp://e.com/",  "e.com/hook", "//e.com",
					  "HTTPS://e.com", "",		 " https://e.com",
					  "mailto:x@e.com"};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "# comment\nsubscriptions = (\n  {\n    name = \"clinic-portal\";\n"
			 "    url = \"%s\";\n    events = [\"#\"];\n  }\n);\n",
			 bad[i]);
		write_text(conf_path, text);
		{
			char want[256];
			char err[512];
			struct cfg *cfg;

			snprintf(
			    want, sizeof(want),
			    "%s:5: subscription \"clinic-portal\": url must start with http:// or "
			    "https://",
			    conf_path);
			assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
			assert_string_equal(err, want);
		}
	}
}

static void unparseable_subscription_url_is_an_error_that_hides_the_url(void **state)
{
	static const char *const bad[] = {"https://", "http://exa mple.com/" SECRET,
					  "https://e.com:99999/", "http://[::1/" SECRET};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "subscriptions = (\n  {\n    name = \"a\";\n    url = \"%s\";\n"
			 "    events = [\"#\"];\n  }\n);\n",
			 bad[i]);
		expect_fail(text, 4, "subscription \"a\": url is not a valid URL");
	}
}

/* ---- events ------------------------------------------------------------------ */

static void events_are_required_and_non_empty(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    name = \"a\";\n    url = \"https://e.com\";\n"
		    "  }\n);\n",
		    2, "subscription \"a\": events is required");
	expect_fail("subscriptions = (\n  {\n    name = \"a\";\n    url = \"https://e.com\";\n"
		    "    events = [];\n  }\n);\n",
		    5, "subscription \"a\": events must list at least one event pattern");
}

static void bad_event_patterns_are_errors_at_their_line(void **state)
{
	static const char *const bad[] = {"",
					  "Document.uploaded",
					  "document..uploaded",
					  ".document",
					  "document.",
					  "document uploaded",
					  "doc*.x",
					  "a.#b",
					  "document/uploaded"};
	char text[512];
	char fragment[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(
		    text, sizeof(text),
		    "subscriptions = (\n  {\n    name = \"a\";\n    url = \"https://e.com\";\n"
		    "    events = [\"document.uploaded\",\n      \"%s\"];\n    secret = \"%s\";\n"
		    "  }\n);\n",
		    bad[i], SECRET);
		snprintf(fragment, sizeof(fragment),
			 "subscription \"a\": event \"%s\" is not a valid pattern", bad[i]);
		expect_fail(text, 6, fragment);
	}
}

static void event_outside_catalogue_is_a_warning_naming_its_line(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_one_warning(
	    "subscriptions = (\n  {\n    name = \"x\";\n    url = \"https://e.com\";\n"
	    "    events = [\"document.uploaded\",\n      \"foo.bar\"];\n"
	    "    secret = \"" SECRET "\";\n  }\n);\n",
	    6,
	    "subscription \"x\": event \"foo.bar\" matches nothing in the event "
	    "catalogue");
	expect_one_warning("subscriptions = ( { name = \"x\"; url = \"https://e.com\"; events = "
			   "[\"*.*.*\"]; secret = \"s\"; } );\n",
			   1, "event \"*.*.*\" matches nothing");

	/* Still loaded, and the pattern kept. */
	cfg = load_ok("subscriptions = ( { name = \"x\"; url = \"https://e.com\"; events = "
		      "[\"document.uploded\", \"share.accessed\"]; secret = \"s\"; } );\n");
	assert_int_equal(cfg->n_warnings, 1);
	assert_int_equal(cfg->subs[0].n_events, 2);
	assert_string_equal(cfg->subs[0].events[0], "document.uploded");
	cfg_free(cfg);
}

static void catalogue_patterns_do_not_warn(void **state)
{
	static const char *const good[] = {
	    "document.uploaded",
	    "document.updated",
	    "document.deleted",
	    "document.shared",
	    "analysis.completed",
	    "analysis.failed",
	    "user.updated",
	    "family_member.added",
	    "family_member.removed",
	    "share.created",
	    "share.accessed",
	    "share.expired",
	    "share.revoked",
	    "webhook.test",
	    "#",
	    "document.*",
	    "*.updated",
	    "share.#",
	    "#.test",
	    "*.*",
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cfg *cfg;

		snprintf(text, sizeof(text),
			 "subscriptions = ( { name = \"a\"; url = \"https://e.com\"; events = "
			 "[\"%s\"]; secret = \"s\"; } );\n",
			 good[i]);
		cfg = load_ok(text);
		if (cfg->n_warnings != 0)
			fail_msg("\"%s\" warned: %s", good[i], cfg->warnings[0]);
		cfg_free(cfg);
	}
}

/* ---- secrets ------------------------------------------------------------------- */

static void inline_secret_is_read(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok(ONE_SUB(""));
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);
}

static void empty_inline_secret_is_an_error(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret = \"\";\n  }\n);\n", 4,
		    "subscription \"a\": secret must be a non-empty string");
}

static void secret_file_relative_path_resolves_against_config_dir(void **state)
{
	struct cfg *cfg;
	char sub_dir[160];
	char sub_conf[200];
	char old_cwd[PATH_MAX];
	char err[512];

	(void)state;
	write_in_dir("secret.txt", SECRET "\n");
	/* Run from elsewhere: the config's directory, not the cwd, anchors it. */
	assert_non_null(getcwd(old_cwd, sizeof(old_cwd)));
	assert_int_equal(chdir("/"), 0);
	cfg = load_ok(ONE_SUB_NOSECRET("secret_file = \"secret.txt\";"));
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);
	cfg = load_ok(ONE_SUB_NOSECRET("secret_file = \"./secret.txt\";"));
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);

	/* A config in a subdirectory reaching up. */
	path_in_dir("sub", sub_dir, sizeof(sub_dir));
	assert_int_equal(mkdir(sub_dir, 0700), 0);
	path_in_dir("sub/hsb.conf", sub_conf, sizeof(sub_conf));
	write_text(sub_conf, ONE_SUB_NOSECRET("secret_file = \"../secret.txt\";"));
	cfg = NULL;
	if (cfg_load(sub_conf, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);

	/* A config path without any slash: relative to the cwd. */
	assert_int_equal(chdir(dir), 0);
	write_text("rel.conf", ONE_SUB_NOSECRET("secret_file = \"secret.txt\";"));
	cfg = NULL;
	if (cfg_load("rel.conf", &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg->subs[0].secret, SECRET);
	assert_string_equal(cfg->path, "rel.conf");
	cfg_free(cfg);
	assert_int_equal(chdir(old_cwd), 0);
}

static void secret_file_strips_exactly_one_line_ending(void **state)
{
	static const struct {
		const char *file;
		const char *content;
		const char *want;
	} cases[] = {
	    {"secret.txt", SECRET, SECRET},
	    {"nl.txt", SECRET "\n", SECRET},
	    {"crlf.txt", SECRET "\r\n", SECRET},
	    {"two.txt", SECRET "\n\n", SECRET "\n"},
	    {"bad.txt", " " SECRET " \r", " " SECRET " \r"},
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *cfg;

		write_in_dir(cases[i].file, cases[i].content);
		snprintf(text, sizeof(text),
			 "subscriptions = ( { " SUB_BODY "secret_file = \"%s\"; } );\n",
			 cases[i].file);
		cfg = load_ok(text);
		assert_string_equal(cfg->subs[0].secret, cases[i].want);
		cfg_free(cfg);
	}
}

static void secret_file_absolute_path_is_used_as_is(void **state)
{
	char abs_path[160];
	char text[512];
	struct cfg *cfg;

	(void)state;
	path_in_dir("abs.txt", abs_path, sizeof(abs_path));
	write_text(abs_path, SECRET "\n");
	snprintf(text, sizeof(text), "subscriptions = ( { " SUB_BODY "secret_file = \"%s\"; } );\n",
		 abs_path);
	cfg = load_ok(text);
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);
}

struct mode_case {
	unsigned mode;
	bool warns;
};

static const struct mode_case mode_cases[] = {
    {0600, false}, {0400, false}, {0700, false}, {0640, true},
    {0604, true},  {0644, true},  {0444, true},	 {0620, false},
};

static void assert_one_mode_warning(const struct cfg *cfg, const char *prefix,
				    const char *fragment, unsigned mode)
{
	char want_mode[32];

	snprintf(want_mode, sizeof(want_mode), "(mode %04o)", mode);
	assert_int_equal(cfg->n_warnings, 1);
	if (strncmp(cfg->warnings[0], prefix, strlen(prefix)) != 0 ||
	    !strstr(cfg->warnings[0], fragment) || !strstr(cfg->warnings[0], want_mode))
		fail_msg("got \"%s\"; want prefix \"%s\", \"%s\" and \"%s\"", cfg->warnings[0],
			 prefix, fragment, want_mode);
	assert_clean_warnings(cfg);
}

static void secret_file_readable_by_others_warns_naming_the_file(void **state)
{
	char secret_path[160];
	char prefix[256];
	char fragment[256];

	(void)state;
	path_in_dir("mode.secret", secret_path, sizeof(secret_path));
	write_text(secret_path, SECRET "\n");
	snprintf(prefix, sizeof(prefix), "%s:3: subscription \"a\": ", conf_path);
	snprintf(fragment, sizeof(fragment),
		 "secret_file %s is readable by group or others", secret_path);
	for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
		struct cfg *cfg;

		assert_int_equal(chmod(secret_path, mode_cases[i].mode), 0);
		cfg = load_ok("subscriptions = (\n  { " SUB_BODY "\n"
			      "    secret_file = \"mode.secret\"; } );\n");
		assert_string_equal(cfg->subs[0].secret, SECRET);
		if (mode_cases[i].warns)
			assert_one_mode_warning(cfg, prefix, fragment, mode_cases[i].mode);
		else
			assert_int_equal(cfg->n_warnings, 0);
		cfg_free(cfg);
	}
}

static void inline_secret_in_a_file_others_can_read_warns_once(void **state)
{
	static const char two_inline[] =
	    "subscriptions = (\n"
	    "  { " SUB_BODY "\n    secret = \"" SECRET "\"; },\n"
	    "  { name = \"b\"; url = \"https://e.com/\"; events = [\"#\"]; secret = \"x\"; }\n"
	    ");\n";
	char prefix[256];

	(void)state;
	snprintf(prefix, sizeof(prefix), "%s:3: subscription \"a\": ", conf_path);
	for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
		struct cfg *cfg;

		write_text(conf_path, two_inline);
		assert_int_equal(chmod(conf_path, mode_cases[i].mode), 0);
		cfg = NULL;
		{
			char err[512] = "";

			if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
				fail_msg("cfg_load failed: %s", err);
		}
		if (mode_cases[i].warns)
			assert_one_mode_warning(cfg, prefix,
						"a secret is written in this file, which is "
						"readable by group or others",
						mode_cases[i].mode);
		else
			assert_int_equal(cfg->n_warnings, 0);
		cfg_free(cfg);
	}
	assert_int_equal(chmod(conf_path, 0600), 0);
}

static void previous_secrets_inline_count_as_inline_but_secret_env_does_not(void **state)
{
	struct cfg *cfg;
	char err[512] = "";
	char prefix[256];

	(void)state;
	assert_int_equal(setenv(ENV_SECRET, SECRET, 1), 0);
	write_text(conf_path, ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\";"));
	assert_int_equal(chmod(conf_path, 0644), 0);
	assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_warnings, 0);
	cfg_free(cfg);
	write_text(conf_path, ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\"; "
						"previous_secrets = [\"old\"];"));
	assert_int_equal(chmod(conf_path, 0644), 0);
	assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), 0);
	snprintf(prefix, sizeof(prefix), "%s:1: subscription \"a\": ", conf_path);
	assert_one_mode_warning(cfg, prefix, "a secret is written in this file", 0644);
	cfg_free(cfg);
	assert_int_equal(chmod(conf_path, 0600), 0);
}

/* The broker password (not RabbitMQ's well-known guest:guest) and a
 * password in management_url count as secrets written in the file. */
static void broker_passwords_in_a_file_others_can_read_warn(void **state)
{
	static const struct {
		const char *broker;
		const char *fragment; /* NULL: no warning */
	} cases[] = {
	    {"url = \"amqp://svc:Pw_77@10.0.0.1/%2f\";", "url: the broker password is written"},
	    {"url = \"amqps://svc:Pw_77@h/v\";", "url: the broker password is written"},
	    {"url = \"amqp://guest:guest@127.0.0.1/%2f\";", NULL},
	    {"url = \"amqp://127.0.0.1/%2f\";", NULL},
	    {"url = \"amqp://svc@127.0.0.1/%2f\";", NULL},
	    {"management_url = \"http://ops:Mg_88@127.0.0.1:15672\";",
	     "management_url: a password is written"},
	    {"management_url = \"http://ops@127.0.0.1:15672\";", NULL},
	    {"management_url = \"http://127.0.0.1:15672/a@b\";", NULL},
	};
	char text[512];
	char err[512];
	char prefix[256];

	(void)state;
	assert_int_equal(setenv(ENV_SECRET, SECRET, 1), 0);
	snprintf(prefix, sizeof(prefix), "%s:1: broker.", conf_path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *cfg = NULL;

		snprintf(text, sizeof(text), "broker = { %s };\n%s", cases[i].broker,
			 ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\";"));
		write_text(conf_path, text);
		assert_int_equal(chmod(conf_path, 0640), 0);
		if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
			fail_msg("case %zu: cfg_load failed: %s", i, err);
		if (cases[i].fragment)
			assert_one_mode_warning(cfg, prefix, cases[i].fragment, 0640);
		else if (cfg->n_warnings != 0)
			fail_msg("case %zu: unexpected warning \"%s\"", i, cfg->warnings[0]);
		for (size_t w = 0; w < cfg->n_warnings; w++) {
			assert_null(strstr(cfg->warnings[w], "Pw_77"));
			assert_null(strstr(cfg->warnings[w], "Mg_88"));
		}
		cfg_free(cfg);
		/* the same file, readable by its owner only: no warning */
		assert_int_equal(chmod(conf_path, 0600), 0);
		assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), 0);
		assert_int_equal(cfg->n_warnings, 0);
		cfg_free(cfg);
	}
}

/* The management API gets the broker password (Basic auth): plain http
 * for a broker reached over TLS would undo the TLS. */
static void cleartext_management_url_for_an_amqps_broker_warns(void **state)
{
	static const struct {
		const char *broker;
		bool warns;
	} cases[] = {
	    {"url = \"amqps://h/v\"; management_url = \"http://h:15672\";", true},
	    {"url = \"amqps://h/v\"; management_url = \"https://h:15671\";", false},
	    {"url = \"amqp://h/v\"; management_url = \"http://h:15672\";", false},
	    {"url = \"amqps://h/v\";", false},
	};
	char text[512];
	char err[512];
	char prefix[256];

	(void)state;
	assert_int_equal(setenv(ENV_SECRET, SECRET, 1), 0);
	snprintf(prefix, sizeof(prefix), "%s:1: broker.", conf_path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *cfg = NULL;

		snprintf(text, sizeof(text), "broker = { %s };\n%s", cases[i].broker,
			 ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\";"));
		write_text(conf_path, text);
		if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
			fail_msg("case %zu: cfg_load failed: %s", i, err);
		if (!cases[i].warns) {
			if (cfg->n_warnings != 0)
				fail_msg("case %zu: unexpected warning \"%s\"", i, cfg->warnings[0]);
		} else if (cfg->n_warnings != 1 ||
			   strncmp(cfg->warnings[0], prefix, strlen(prefix)) != 0 ||
			   !strstr(cfg->warnings[0], "management_url is http:// for an amqps://")) {
			fail_msg("case %zu: want one cleartext warning, got %zu", i, cfg->n_warnings);
		}
		cfg_free(cfg);
	}
}

static void secret_file_errors_name_the_key_line(void **state)
{
	static const char nul_secret[] = "abc\0def";
	char *big;

	(void)state;
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret_file = \"missing.txt\";\n"
		    "  }\n);\n",
		    4,
		    "subscription \"a\": cannot read secret_file (relative to the config file's "
		    "directory): No such file or directory");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY
		    "\n    secret_file = \"/nonexistent/x\";\n"
		    "  }\n);\n",
		    4, "subscription \"a\": cannot read secret_file: No such file or directory");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret_file = \".\";\n  }\n);\n",
		    4,
		    "cannot read secret_file (relative to the config file's directory): Is a "
		    "directory");
	write_in_dir("empty.txt", "");
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"empty.txt\";"), 1,
		    "subscription \"a\": secret_file is empty");
	write_in_dir("nl.txt", "\n");
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"nl.txt\";"), 1, "secret_file is empty");
	write_in_dir("crlf.txt", "\r\n");
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"crlf.txt\";"), 1, "secret_file is empty");
	{
		char path[160];

		path_in_dir("nul.txt", path, sizeof(path));
		write_file(path, nul_secret, sizeof(nul_secret) - 1);
	}
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"nul.txt\";"), 1,
		    "secret_file contains a NUL byte");
	big = malloc(64 * 1024 + 2);
	assert_non_null(big);
	memset(big, 'k', 64 * 1024 + 1);
	big[64 * 1024 + 1] = '\0';
	write_in_dir("big.txt", big);
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"big.txt\";"), 1,
		    "secret_file is larger than 65536 bytes");
	/* Exactly the limit is fine. */
	big[64 * 1024] = '\0';
	write_in_dir("big.txt", big);
	{
		struct cfg *cfg = load_ok(ONE_SUB_NOSECRET("secret_file = \"big.txt\";"));

		assert_int_equal(strlen(cfg->subs[0].secret), 64 * 1024);
		cfg_free(cfg);
	}
	free(big);
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"\";"), 1,
		    "subscription \"a\": secret_file must be a non-empty string");
}

static void secret_env_reads_the_variable(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok(ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\";"));
	assert_string_equal(cfg->subs[0].secret, SECRET);
	cfg_free(cfg);
}

static void secret_env_unset_or_empty_is_an_error(void **state)
{
	(void)state;
	expect_fail(
	    "subscriptions = (\n  {\n    " SUB_BODY "\n    secret_env = \"" ENV_UNSET "\";\n"
	    "  }\n);\n",
	    4, "subscription \"a\": secret_env: the environment variable " ENV_UNSET " is not set");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n\n    secret_env = \"" ENV_EMPTY
		    "\";\n"
		    "  }\n);\n",
		    5, "subscription \"a\": secret_env: the environment variable " ENV_EMPTY " is empty");
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"\";"), 1,
		    "subscription \"a\": secret_env must be a non-empty string");
}

/* A secret written where its variable's name belongs is refused without
 * being echoed (expect_fail checks that no secret is in the error). */
static void secret_env_holding_a_secret_is_refused_unprinted(void **state)
{
	(void)state;
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"" SECRET "\";"), 1,
		    "secret_env must be the name of an environment variable");
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"9LIVES\";"), 1,
		    "secret_env must be the name of an environment variable");
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"A-B\";"), 1,
		    "secret_env must be the name of an environment variable");
}

/* CFG_NO_SECRETS (status, topology, publish): an unset variable and an
 * unreadable file are not errors, and no secret is read; the form still is
 * checked. */
static void no_secrets_flag_reads_no_secret(void **state)
{
	struct cfg *cfg = NULL;
	char err[512] = "";

	(void)state;
	write_text(conf_path, "subscriptions = (\n  {\n    " SUB_BODY "\n    secret_env = \"" ENV_UNSET
				"\";\n  }\n);\n");
	assert_int_equal(cfg_load_flags(conf_path, CFG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->subs[0].secret);
	cfg_free(cfg);
	write_text(conf_path, ONE_SUB_NOSECRET("secret_file = \"/nonexistent/secret\";"));
	assert_int_equal(cfg_load_flags(conf_path, CFG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->subs[0].secret);
	cfg_free(cfg);
	write_text(conf_path, ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\";"));
	assert_int_equal(cfg_load_flags(conf_path, CFG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->subs[0].secret);
	cfg_free(cfg);
	write_text(conf_path, ONE_SUB_NOSECRET("secret_env = \"\";"));
	assert_int_not_equal(cfg_load_flags(conf_path, CFG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "secret_env must be a non-empty string"));
}

static void no_secret_source_is_an_error_at_the_subscription_line(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n  }\n);\n", 2,
		    "subscription \"a\": one of secret, secret_file or secret_env is required");
}

static void two_secret_sources_are_an_error_at_the_second(void **state)
{
	(void)state;
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret = \"" SECRET "\";\n"
		    "    secret_env = \"" ENV_SECRET "\";\n  }\n);\n",
		    5, "subscription \"a\": secret and secret_env are exclusive");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret_env = \"" ENV_SECRET
		    "\";\n"
		    "    secret = \"" SECRET "\";\n  }\n);\n",
		    5, "secret and secret_env are exclusive: set exactly one");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret_file = \"secret.txt\";\n"
		    "    secret = \"" SECRET "\";\n  }\n);\n",
		    5, "secret and secret_file are exclusive");
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY
		    "\n    secret_file = \"secret.txt\";\n\n"
		    "    secret_env = \"" ENV_SECRET "\";\n    secret = \"" SECRET "\";\n  }\n);\n",
		    7, "are exclusive");
}

static void whsec_secret_must_be_base64(void **state)
{
	static const char *const bad[] = {"whsec_", "whsec_" SECRET "!!", "whsec_a", "whsec_ab cd"};
	char text[512];
	struct cfg *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "subscriptions = (\n  {\n    %s\n    secret = \"%s\";\n  }\n);\n",
			 SUB_BODY, bad[i]);
		expect_fail(
		    text, 4,
		    "subscription \"a\": secret starts with whsec_ but is not valid base64");
		/* The same rule for a file and an environment variable. */
		write_in_dir("bad.txt", bad[i]);
		expect_fail(ONE_SUB_NOSECRET("secret_file = \"bad.txt\";"), 1,
			    "secret starts with whsec_ but is not valid base64");
		setenv("HSB_TEST_CONFIG_BAD", bad[i], 1);
		expect_fail(ONE_SUB_NOSECRET("secret_env = \"HSB_TEST_CONFIG_BAD\";"), 1,
			    "secret starts with whsec_ but is not valid base64");
		unsetenv("HSB_TEST_CONFIG_BAD");
	}
	cfg = load_ok(ONE_SUB_NOSECRET("secret = \"" WHSEC_OK "\";"));
	assert_string_equal(cfg->subs[0].secret, WHSEC_OK);
	cfg_free(cfg);
	/* Only the prefix makes it base64: other secrets are taken as bytes. */
	cfg = load_ok(ONE_SUB_NOSECRET("secret = \"WHSEC_!!\";"));
	cfg_free(cfg);
}

static void previous_secrets_are_checked(void **state)
{
	struct cfg *cfg;

	(void)state;
	expect_fail("subscriptions = (\n  {\n    " SUB_BODY "\n    secret = \"x\";\n"
		    "    previous_secrets = [\"old\",\n      \"\"];\n  }\n);\n",
		    6, "subscription \"a\": previous_secrets[1] is empty");
	expect_fail(
	    "subscriptions = (\n  {\n    " SUB_BODY "\n    secret = \"x\";\n"
	    "    previous_secrets = [\"whsec_" SECRET "%%\"];\n  }\n);\n",
	    5,
	    "subscription \"a\": previous_secrets[0] starts with whsec_ but is not valid base64");
	cfg = load_ok(ONE_SUB("previous_secrets = [];"));
	assert_int_equal(cfg->subs[0].n_previous, 0);
	assert_null(cfg->subs[0].previous_secrets);
	cfg_free(cfg);
	cfg = load_ok(
	    ONE_SUB("previous_secrets = [\"" WHSEC_OK "\", \"plain\", \"whsec_dGVzdA==\"];"));
	assert_int_equal(cfg->subs[0].n_previous, 3);
	assert_string_equal(cfg->subs[0].previous_secrets[0], WHSEC_OK);
	assert_string_equal(cfg->subs[0].previous_secrets[1], "plain");
	assert_string_equal(cfg->subs[0].previous_secrets[2], "whsec_dGVzdA==");
	cfg_free(cfg);
}

/* Every failing config here carries SECRET somewhere: as the secret, a
 * previous secret, a misplaced value, a file's or variable's contents.
 * expect_fail and load_ok assert it never shows. */
static void secrets_never_appear_in_errors_or_warnings(void **state)
{
	static const struct type_case cases[] = {
	    /* Errors after the secret was read. */
	    {ONE_SUB("previous_secrets = [\"\"];"), 1, "previous_secrets[0] is empty"},
	    {ONE_SUB("active = 3;"), 1, "active must be true or false"},
	    {ONE_SUB("bogus = \"" SECRET "\";"), 1, "unknown key \"bogus\""},
	    {ONE_SUB("timeout_ms = 0;"), 1, "timeout_ms must be"},
	    {ONE_SUB_NOSECRET("secret = \"" SECRET "\"; secret_env = \"X\";"), 1, "exclusive"},
	    {ONE_SUB_NOSECRET("secret = \"whsec_" SECRET "\";"), 1, "not valid base64"},
	    {ONE_SUB("previous_secrets = [\"whsec_" SECRET "\"];"), 1, "not valid base64"},
	    {ONE_SUB("previous_secrets = \"" SECRET "\";"), 1, "must be an array"},
	    /* A secret pasted where a name belongs. */
	    {ONE_SUB_NOSECRET("secret_env = \"" SECRET "\";"), 1, "must be the name"},
	    {ONE_SUB_NOSECRET("secret_env = \"whsec_" SECRET_ENVISH "\";"), 1,
	     "the environment variable it names is not set"},
	    {ONE_SUB_NOSECRET("secret_env = \"" SECRET_ENVISH "\";"), 1,
	     "the environment variable it names is not set"},
	    {ONE_SUB_NOSECRET("secret_file = \"" SECRET "\";"), 1, "cannot read secret_file"},
	    {"broker: { url = \"https://u:" SECRET "@h/\"; };\n" ONE_SUB(""), 1,
	     "broker.url must start"},
	    {"subscriptions = ( { name = \"a\"; url = \"ftp://u:" SECRET "@h/\"; } );\n", 1,
	     "url must start with http://"},
	    {"subscriptions = ( { name = \"a\"; url = \"https://u:" SECRET "@h:0x/\"; } );\n", 1,
	     "url is not a valid URL"},
	    /* Parse errors after a secret. */
	    {ONE_SUB("") "broker: { url = = \"amqp://x\"; };\n", 2, "syntax error"},
	    {"subscriptions = ( { secret = \"" SECRET "\"; secret = \"x\"; } );\n", 1,
	     "duplicate setting"},
	    {"subscriptions = ( { secret = \"" SECRET "\"; } );\n", 1, "name is required"},
	    /* Errors in later subscriptions. */
	    {ONE_SUB("") "broker: { heartbeat_s = 99999; };\n", 2, "broker.heartbeat_s"},
	};
	size_t i;

	(void)state;
	write_in_dir("secret.txt", SECRET);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail(cases[i].text, cases[i].line, cases[i].fragment);
	/* A file and an environment variable holding the secret, then an error. */
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"secret.txt\"; max_in_flight = 0;"), 1,
		    "max_in_flight must be");
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"" ENV_SECRET "\"; active = \"no\";"), 1,
		    "active must be");
	write_in_dir("bad.txt", "whsec_" SECRET "*\n");
	expect_fail(ONE_SUB_NOSECRET("secret_file = \"bad.txt\";"), 1, "not valid base64");
	setenv("HSB_TEST_CONFIG_BAD", "whsec_" SECRET "*", 1);
	expect_fail(ONE_SUB_NOSECRET("secret_env = \"HSB_TEST_CONFIG_BAD\";"), 1,
		    "not valid base64");
	unsetenv("HSB_TEST_CONFIG_BAD");
	/* Warnings next to a secret. */
	expect_one_warning("subscriptions = ( { name = \"x\"; url = \"https://e.com\"; events = "
			   "[\"nope.nope\"]; secret = \"" SECRET "\"; } );\n",
			   1, "matches nothing");
}

/* ---- misc -------------------------------------------------------------------- */

static void small_error_buffer_is_truncated_safely(void **state)
{
	struct cfg *cfg = NULL;
	char err[12];

	(void)state;
	memset(err, 'Z', sizeof(err));
	write_text(conf_path, "broker: { url = \"http://x\"; };\n" ONE_SUB(""));
	assert_int_equal(cfg_load(conf_path, &cfg, err, sizeof(err)), -1);
	assert_null(cfg);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(strncmp(err, conf_path, sizeof(err) - 1), 0);
	assert_int_equal(cfg_load(conf_path, &cfg, NULL, 0), -1);
	assert_null(cfg);
	assert_int_equal(cfg_load(conf_path, &cfg, NULL, 64), -1);
	assert_null(cfg);
}

static void cfg_free_accepts_null(void **state)
{
	(void)state;
	cfg_free(NULL);
}

/* ---- durations ----------------------------------------------------------------- */

static void durations_parse(void **state)
{
	static const struct {
		const char *text;
		long ms;
	} ok[] = {
	    {"1ms", 1},		 {"200ms", 200},       {"1500ms", 1500},
	    {"1s", 1000},	 {"30s", 30000},       {"90s", 90000},
	    {"1m", 60000},	 {"5m", 300000},       {"30m", 1800000},
	    {"1h", 3600000},	 {"2h", 7200000},      {"24h", 86400000},
	    {"1440m", 86400000}, {"86400s", 86400000}, {"86400000ms", 86400000},
	    {"01m", 60000},
	};
	long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = -7;
		if (cfg_parse_duration(ok[i].text, &ms) != 0)
			fail_msg("\"%s\" rejected", ok[i].text);
		assert_int_equal(ms, ok[i].ms);
	}
}

static void invalid_durations_are_rejected(void **state)
{
	static const char *const bad[] = {
	    "",
	    "m",
	    "5",
	    "0s",
	    "0ms",
	    "00m",
	    "-1m",
	    "+1m",
	    " 1m",
	    "1m ",
	    "1 m",
	    "1M",
	    "1S",
	    "1H",
	    "1MS",
	    "1d",
	    "1sec",
	    "1min",
	    "1.5m",
	    "1e3ms",
	    "0x10s",
	    "1hm",
	    "1mss",
	    "25h",
	    "1441m",
	    "86401s",
	    "86400001ms",
	    "9223372036854775807ms",
	    "9223372036854775808ms",
	    "99999999999999999999999h",
	    "1m\n",
	};
	long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -7;
		if (cfg_parse_duration(bad[i], &ms) != -1)
			fail_msg("\"%s\" accepted as %ld", bad[i], ms);
		assert_int_equal(ms, -7);
	}
	assert_int_equal(cfg_parse_duration(NULL, &ms), -1);
	assert_int_equal(cfg_parse_duration("1m", NULL), -1);
}

static void durations_format_with_the_largest_exact_unit(void **state)
{
	static const struct {
		long ms;
		const char *want;
	} cases[] = {
	    {3600000, "1h"},  {7200000, "2h"},	{86400000, "24h"}, {60000, "1m"},
	    {5400000, "90m"}, {90000, "90s"},	{1000, "1s"},	   {59000, "59s"},
	    {200, "200ms"},   {1500, "1500ms"}, {1, "1ms"},	   {3601000, "3601s"},
	    {0, "0ms"},
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg_format_duration(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	/* Truncates within the buffer. */
	memset(buf, 'Z', sizeof(buf));
	cfg_format_duration(1500, buf, 4);
	assert_string_equal(buf, "150");
	cfg_format_duration(1500, buf, 0);
	assert_int_equal(buf[0], '1');
}

static void format_and_parse_round_trip(void **state)
{
	static const long values[] = {1,     999,     1000,    1001,	59999,	 60000,
				      61000, 3599999, 3600000, 5400000, 86400000};
	char buf[32];
	long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		cfg_format_duration(values[i], buf, sizeof(buf));
		assert_int_equal(cfg_parse_duration(buf, &ms), 0);
		assert_int_equal(ms, values[i]);
	}
}

/* ---- breaker ---------------------------------------------------------------- */

static void breaker_defaults_apply_to_every_subscription(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok(ONE_SUB(""));
	assert_true(cfg->breaker.enabled);
	assert_int_equal(cfg->breaker.failures, 10);
	assert_int_equal(cfg->breaker.cooldown_ms, 30000);
	assert_int_equal(cfg->breaker.max_cooldown_ms, 600000);
	assert_true(cfg->subs[0].breaker.enabled);
	assert_int_equal(cfg->subs[0].breaker.failures, 10);
	assert_int_equal(cfg->subs[0].breaker.cooldown_ms, 30000);
	assert_int_equal(cfg->subs[0].breaker.max_cooldown_ms, 600000);
	cfg_free(cfg);
}

/* A subscription overrides key by key; the rest comes from the group. */
static void breaker_subscription_overrides_key_by_key(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load_ok("breaker: { failures = 3; cooldown = \"200ms\"; max_cooldown = \"1s\"; };\n"
		      "subscriptions = (\n"
		      "  { " SUB_BODY "secret = \"x\"; breaker = { cooldown = \"300ms\"; }; },\n"
		      "  { name = \"b\"; url = \"https://e.com/\"; events = [\"#\"]; secret = "
		      "\"y\"; breaker = { enabled = false; failures = 1; }; },\n"
		      "  { name = \"c\"; url = \"https://e.com/\"; events = [\"#\"]; secret = "
		      "\"z\"; breaker = { cooldown = \"1h\"; }; }\n"
		      ");\n");
	assert_int_equal(cfg->breaker.failures, 3);
	assert_true(cfg->subs[0].breaker.enabled);
	assert_int_equal(cfg->subs[0].breaker.failures, 3);
	assert_int_equal(cfg->subs[0].breaker.cooldown_ms, 300);
	assert_int_equal(cfg->subs[0].breaker.max_cooldown_ms, 1000);
	assert_false(cfg->subs[1].breaker.enabled);
	assert_int_equal(cfg->subs[1].breaker.failures, 1);
	assert_int_equal(cfg->subs[1].breaker.cooldown_ms, 200);
	/* A cool-down above the inherited ceiling raises it. */
	assert_int_equal(cfg->subs[2].breaker.cooldown_ms, 3600000);
	assert_int_equal(cfg->subs[2].breaker.max_cooldown_ms, 3600000);
	cfg_free(cfg);
}

struct breaker_error {
	const char *text;
	int line;
	const char *fragment;
};

static void breaker_errors_name_file_and_line(void **state)
{
	static const struct breaker_error cases[] = {
	    {"breaker = 3;\n" ONE_SUB(""), 1, "breaker must be a group"},
	    {"\nbreaker: {\n  enable = true;\n};\n" ONE_SUB(""), 3,
	     "unknown key \"breaker.enable\" (expected one of: enabled, failures, cooldown, "
	     "max_cooldown)"},
	    {"breaker: {\n enabled = 1;\n};\n" ONE_SUB(""), 2,
	     "breaker.enabled must be true or false"},
	    {"breaker: {\n failures = 0;\n};\n" ONE_SUB(""), 2,
	     "breaker.failures must be an integer between 1 and 1000000"},
	    {"breaker: {\n failures = \"10\";\n};\n" ONE_SUB(""), 2,
	     "breaker.failures must be an integer"},
	    {"breaker: {\n cooldown = 30;\n};\n" ONE_SUB(""), 2, "breaker.cooldown must be a string"},
	    {"breaker: {\n cooldown = \"30\";\n};\n" ONE_SUB(""), 2,
	     "breaker.cooldown: \"30\" is not a duration"},
	    {"breaker: {\n cooldown = \"-1s\";\n};\n" ONE_SUB(""), 2,
	     "breaker.cooldown: \"-1s\" is not a duration"},
	    {"breaker: {\n max_cooldown = \"25h\";\n};\n" ONE_SUB(""), 2,
	     "breaker.max_cooldown: \"25h\" is not a duration"},
	    {"breaker: {\n cooldown = \"1m\";\n max_cooldown = \"30s\";\n};\n" ONE_SUB(""), 3,
	     "breaker.max_cooldown (30s) must not be shorter than cooldown (1m)"},
	    {"\n" ONE_SUB("breaker = 1;"), 2, "subscription \"a\": breaker must be a group"},
	    {"\n" ONE_SUB("breaker = { typo = 1; };"), 2,
	     "subscription \"a\": breaker: unknown key \"typo\""},
	    {"\n" ONE_SUB("breaker = { failures = 1000001; };"), 2,
	     "subscription \"a\": breaker.failures must be an integer between 1 and 1000000"},
	    {"\n" ONE_SUB("breaker = { cooldown = \"soon\"; };"), 2,
	     "subscription \"a\": breaker.cooldown: \"soon\" is not a duration"},
	    {"breaker: { max_cooldown = \"1m\"; };\n" ONE_SUB("breaker = { max_cooldown = \"1s\"; "
							     "cooldown = \"2s\"; };"),
	     2, "subscription \"a\": breaker.max_cooldown (1s) must not be shorter than cooldown (2s)"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail(cases[i].text, cases[i].line, cases[i].fragment);
}

/* ---- metrics ---------------------------------------------------------------- */

static void metrics_listen_is_kept_and_absent_or_empty_means_none(void **state)
{
	static const struct {
		const char *text;
		const char *listen; /* NULL: no listener */
	} cases[] = {
	    {ONE_SUB(""), NULL},
	    {"metrics: { };\n" ONE_SUB(""), NULL},
	    {"metrics: { listen = \"\"; };\n" ONE_SUB(""), NULL},
	    {"metrics: { listen = \"127.0.0.1:9464\"; };\n" ONE_SUB(""), "127.0.0.1:9464"},
	    {"metrics: { listen = \"0.0.0.0:0\"; };\n" ONE_SUB(""), "0.0.0.0:0"},
	    {"metrics: { listen = \"localhost:9464\"; };\n" ONE_SUB(""), "localhost:9464"},
	    {"metrics: { listen = \"[::1]:9464\"; };\n" ONE_SUB(""), "[::1]:9464"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *cfg = load_ok(cases[i].text);

		if (cases[i].listen)
			assert_string_equal(cfg->metrics_listen, cases[i].listen);
		else
			assert_null(cfg->metrics_listen);
		cfg_free(cfg);
	}
}

static void metrics_errors_name_file_and_line(void **state)
{
	static const struct breaker_error cases[] = {
	    {"metrics = 3;\n" ONE_SUB(""), 1, "metrics must be a group"},
	    {"\nmetrics: {\n  address = \"127.0.0.1:9464\";\n};\n" ONE_SUB(""), 3,
	     "unknown key \"metrics.address\" (expected one of: listen)"},
	    {"metrics: {\n listen = 9464;\n};\n" ONE_SUB(""), 2, "metrics.listen must be a string"},
	    {"metrics: {\n listen = \"9464\";\n};\n" ONE_SUB(""), 2,
	     "metrics.listen: \"9464\" is not a listen address"},
	    {"metrics: {\n\n listen = \"127.0.0.1\";\n};\n" ONE_SUB(""), 3,
	     "metrics.listen: \"127.0.0.1\" is not a listen address"},
	    {"metrics: {\n listen = \"127.0.0.1:65536\";\n};\n" ONE_SUB(""), 2,
	     "metrics.listen: \"127.0.0.1:65536\" is not a listen address"},
	    {"metrics: {\n listen = \"example.com:9464\";\n};\n" ONE_SUB(""), 2,
	     "metrics.listen: \"example.com:9464\" is not a listen address: host:port with an "
	     "IPv4 address, [IPv6 address] or localhost, and a port 0-65535"},
	    {"metrics: {\n listen = \"300.1.1.1:80\";\n};\n" ONE_SUB(""), 2,
	     "is not a listen address"},
	    {"metrics: {\n listen = \"::1:9464\";\n};\n" ONE_SUB(""), 2,
	     "is not a listen address"},
	    {"metrics: {\n listen = \" \";\n};\n" ONE_SUB(""), 2, "is not a listen address"},
	    {"metrics: {\n listen = \"garbage\\n\\u0007\";\n};\n" ONE_SUB(""), 2,
	     "is not a listen address"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].text);
		expect_fail(cases[i].text, cases[i].line, cases[i].fragment);
	}
}

/* history (issue 11): on by default, 7 days and 1 GiB, 256 bytes of an
 * answer; each key read and bounded, with its line. */
static void history_defaults_overrides_and_errors(void **state)
{
	struct cfg *cfg;
	char buf[32];

	(void)state;
	cfg = load_ok(ONE_SUB(""));
	assert_true(cfg->history.enabled);
	assert_int_equal(cfg->history.max_age_s, 7 * 86400);
	assert_int_equal(cfg->history.max_bytes, 1LL << 30);
	assert_int_equal(cfg->history.response_bytes, 256);
	cfg_free(cfg);
	cfg = load_ok("history: { enabled = false; max_age = \"36h\"; max_bytes = 2097152; "
		      "response_bytes = 0; };\n" ONE_SUB(""));
	assert_false(cfg->history.enabled);
	assert_int_equal(cfg->history.max_age_s, 36 * 3600);
	assert_int_equal(cfg->history.max_bytes, 2 << 20);
	assert_int_equal(cfg->history.response_bytes, 0);
	cfg_free(cfg);
	cfg = load_ok("history: { max_age = \"90s\"; max_bytes = \"3MiB\"; };\n" ONE_SUB(""));
	assert_int_equal(cfg->history.max_age_s, 90);
	assert_int_equal(cfg->history.max_bytes, 3 << 20);
	cfg_free(cfg);
	expect_fail("\nhistory: {\n max_age = \"1w\"; };\n" ONE_SUB(""), 3, "history.max_age");
	expect_fail("history: { max_bytes = \"1GB\"; };\n" ONE_SUB(""), 1, "history.max_bytes");
	expect_fail("history: { max_bytes = 1048575; };\n" ONE_SUB(""), 1, "from 1MiB to 1TiB");
	expect_fail("history: { response_bytes = 4097; };\n" ONE_SUB(""), 1,
		    "history.response_bytes must be an integer between 0 and 4096");
	expect_fail("history: { enabled = 1; };\n" ONE_SUB(""), 1, "history.enabled must be true");
	expect_fail("history: { on = true; };\n" ONE_SUB(""), 1, "unknown key \"history.on\"");
	expect_fail("subscriptions = ( { name = \"attempts\"; url = \"https://e.com/h\"; events = "
		    "[\"#\"]; secret = \"x\"; } );\n",
		    1, "name \"attempts\" is reserved: hsbridge.attempts is the history stream");
	cfg_format_age(604800, buf, sizeof(buf));
	assert_string_equal(buf, "7D");
	cfg_format_age(7200, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	cfg_format_age(90, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	cfg_format_bytes(1LL << 30, buf, sizeof(buf));
	assert_string_equal(buf, "1GiB");
	cfg_format_bytes(3 << 20, buf, sizeof(buf));
	assert_string_equal(buf, "3MiB");
	cfg_format_bytes(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_config_reads_every_field),
	    cmocka_unit_test(breaker_defaults_apply_to_every_subscription),
	    cmocka_unit_test(breaker_subscription_overrides_key_by_key),
	    cmocka_unit_test(breaker_errors_name_file_and_line),
	    cmocka_unit_test(metrics_listen_is_kept_and_absent_or_empty_means_none),
	    cmocka_unit_test(metrics_errors_name_file_and_line),
	    cmocka_unit_test(minimal_config_applies_defaults),
	    cmocka_unit_test(empty_groups_apply_defaults),
	    cmocka_unit_test(subscription_overrides_resolve_against_delivery),
	    cmocka_unit_test(empty_subscription_list_warns_no_subscriptions),
	    cmocka_unit_test(missing_subscriptions_is_an_error_without_line),
	    cmocka_unit_test(unreadable_file_reports_strerror),
	    cmocka_unit_test(nul_byte_in_file_is_an_error),
	    cmocka_unit_test(oversized_file_is_an_error),
	    cmocka_unit_test(syntax_error_names_its_line),
	    cmocka_unit_test(duplicate_key_is_an_error_with_its_line),
	    cmocka_unit_test(mixed_array_is_an_error_with_its_line),
	    cmocka_unit_test(include_directive_is_rejected),
	    cmocka_unit_test(unknown_top_level_key_names_its_line),
	    cmocka_unit_test(unknown_key_in_broker_names_its_line),
	    cmocka_unit_test(unknown_key_in_delivery_names_its_line),
	    cmocka_unit_test(unknown_key_in_log_names_its_line),
	    cmocka_unit_test(unknown_key_in_subscription_names_its_line),
	    cmocka_unit_test(unknown_key_error_lists_the_known_keys),
	    cmocka_unit_test(sections_must_be_groups),
	    cmocka_unit_test(subscriptions_must_be_a_list),
	    cmocka_unit_test(subscription_entry_must_be_a_group),
	    cmocka_unit_test(wrong_types_are_errors),
	    cmocka_unit_test(integer_bounds_are_enforced),
	    cmocka_unit_test(integer_literals_that_libconfig_would_truncate_are_rejected),
	    cmocka_unit_test(broker_url_needs_amqp_scheme_and_is_never_repeated),
	    cmocka_unit_test(broker_url_that_amqp_cannot_parse_is_an_error_on_its_line),
	    cmocka_unit_test(broker_url_list_keeps_every_url_in_file_order),
	    cmocka_unit_test(broker_url_list_errors_name_the_element_and_its_line),
	    cmocka_unit_test(broker_ca_file_must_be_readable_and_is_kept),
	    cmocka_unit_test(broker_management_url_must_be_http_and_is_kept),
	    cmocka_unit_test(exchange_and_prefix_charset_is_enforced),
	    cmocka_unit_test(retry_delay_that_is_not_a_duration_names_its_element_line),
	    cmocka_unit_test(duplicate_retry_delays_are_an_error),
	    cmocka_unit_test(retry_delays_hold_one_to_sixteen_entries),
	    cmocka_unit_test(log_level_accepts_the_four_names),
	    cmocka_unit_test(subscription_without_name_is_an_error_at_its_line),
	    cmocka_unit_test(bad_subscription_names_are_rejected),
	    cmocka_unit_test(good_subscription_names_are_accepted),
	    cmocka_unit_test(duplicate_name_errors_at_second_line_naming_first),
	    cmocka_unit_test(subscription_url_is_required),
	    cmocka_unit_test(subscription_url_needs_http_scheme),
	    cmocka_unit_test(unparseable_subscription_url_is_an_error_that_hides_the_url),
	    cmocka_unit_test(events_are_required_and_non_empty),
	    cmocka_unit_test(bad_event_patterns_are_errors_at_their_line),
	    cmocka_unit_test(event_outside_catalogue_is_a_warning_naming_its_line),
	    cmocka_unit_test(catalogue_patterns_do_not_warn),
	    cmocka_unit_test(inline_secret_is_read),
	    cmocka_unit_test(broker_passwords_in_a_file_others_can_read_warn),
	    cmocka_unit_test(cleartext_management_url_for_an_amqps_broker_warns),
	    cmocka_unit_test(empty_inline_secret_is_an_error),
	    cmocka_unit_test(secret_file_relative_path_resolves_against_config_dir),
	    cmocka_unit_test(secret_file_strips_exactly_one_line_ending),
	    cmocka_unit_test(secret_file_absolute_path_is_used_as_is),
	    cmocka_unit_test(secret_file_readable_by_others_warns_naming_the_file),
	    cmocka_unit_test(inline_secret_in_a_file_others_can_read_warns_once),
	    cmocka_unit_test(previous_secrets_inline_count_as_inline_but_secret_env_does_not),
	    cmocka_unit_test(secret_file_errors_name_the_key_line),
	    cmocka_unit_test(secret_env_reads_the_variable),
	    cmocka_unit_test(secret_env_unset_or_empty_is_an_error),
	    cmocka_unit_test(secret_env_holding_a_secret_is_refused_unprinted),
	    cmocka_unit_test(no_secrets_flag_reads_no_secret),
	    cmocka_unit_test(no_secret_source_is_an_error_at_the_subscription_line),
	    cmocka_unit_test(two_secret_sources_are_an_error_at_the_second),
	    cmocka_unit_test(whsec_secret_must_be_base64),
	    cmocka_unit_test(previous_secrets_are_checked),
	    cmocka_unit_test(secrets_never_appear_in_errors_or_warnings),
	    cmocka_unit_test(small_error_buffer_is_truncated_safely),
	    cmocka_unit_test(cfg_free_accepts_null),
	    cmocka_unit_test(durations_parse),
	    cmocka_unit_test(invalid_durations_are_rejected),
	    cmocka_unit_test(durations_format_with_the_largest_exact_unit),
	    cmocka_unit_test(format_and_parse_round_trip),
	    cmocka_unit_test(history_defaults_overrides_and_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
