/* Unit tests for the egress keys (config_egress.c): proxy forms and what
 * check may show of them, the delivery group's defaults and a
 * subscription's own values, types and bounds, files that cannot be read,
 * a certificate without its key; each error on its line, no password or
 * proxy credentials in any message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hsbridge/config.h"

#define HEAD "broker: { url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"; };\n"
#define SUB "  name = \"a\"; url = \"https://e.example/h\"; events = [\"#\"]; secret = \"s\";\n"

static char dir[64];
static char conf_path[128];
static char err[1024];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hsb-egress-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/hsbridge.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* delivery: the delivery group's body ("" none); sub: the subscription's
 * extra keys, each on its own line from line 5. */
static struct cfg *load(const char *delivery, const char *sub)
{
	char text[4096];
	struct cfg *cfg = NULL;

	snprintf(text, sizeof(text), "%sdelivery: { %s };\nsubscriptions = ( {\n" SUB "%s\n} );\n",
		 HEAD, delivery, sub);
	write_file(conf_path, text);
	if (cfg_load(conf_path, &cfg, err, sizeof(err)) != 0)
		return NULL;
	return cfg;
}

static void assert_error(const char *delivery, const char *sub, int line, const char *want)
{
	char where[256];

	assert_null(load(delivery, sub));
	snprintf(where, sizeof(where), "%s:%d: ", conf_path, line);
	if (!strstr(err, where) || !strstr(err, want))
		fail_msg("want %s...%s, got: %s", where, want, err);
	if (strstr(err, "pr0xypw") || strstr(err, "k3ypw"))
		fail_msg("message repeats a password: %s", err);
}

static void defaults_are_no_proxy_no_limit_and_the_guard_on(void **state)
{
	struct cfg *cfg = load("", "");

	(void)state;
	assert_non_null(cfg);
	assert_null(cfg->subs[0].egress.proxy);
	assert_null(cfg->subs[0].egress.tls_ca_file);
	assert_null(cfg->subs[0].egress.tls_client_cert);
	assert_false(cfg->subs[0].egress.allow_private_addresses);
	assert_int_equal(cfg->subs[0].egress.max_per_second, 0);
	cfg_free(cfg);
}

static void a_subscription_replaces_the_delivery_groups_values(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load("proxy = \"http://u:pr0xypw@proxy.example:3128\"; "
		   "allow_private_addresses = true; max_per_second = 50;",
		   "max_per_second = 5;");
	assert_non_null(cfg);
	assert_string_equal(cfg->subs[0].egress.proxy, "http://u:pr0xypw@proxy.example:3128");
	assert_string_equal(cfg->subs[0].egress.proxy_shown, "http://proxy.example:3128");
	assert_true(cfg->subs[0].egress.allow_private_addresses);
	assert_int_equal(cfg->subs[0].egress.max_per_second, 5);
	assert_int_equal(cfg->egress.max_per_second, 50);
	cfg_free(cfg);
	/* "" turns the delivery group's proxy off; false turns the guard on. */
	cfg = load("proxy = \"http://proxy.example:3128\"; allow_private_addresses = true;",
		   "proxy = \"\";\nallow_private_addresses = false;");
	assert_non_null(cfg);
	assert_null(cfg->subs[0].egress.proxy);
	assert_false(cfg->subs[0].egress.allow_private_addresses);
	cfg_free(cfg);
}

static void proxy_forms(void **state)
{
	struct cfg *cfg;

	(void)state;
	cfg = load("", "proxy = \"env\";");
	assert_non_null(cfg);
	assert_string_equal(cfg->subs[0].egress.proxy, CFG_PROXY_ENV);
	cfg_free(cfg);
	cfg = load("", "proxy = \"socks5h://10.0.0.1\";");
	if (!cfg) fail_msg("%s", err);
	assert_string_equal(cfg->subs[0].egress.proxy_shown, "socks5h://10.0.0.1:1080");
	cfg_free(cfg);
	cfg = load("", "proxy = \"http://[::1]:8080/\";");
	assert_non_null(cfg);
	assert_string_equal(cfg->subs[0].egress.proxy_shown, "http://[::1]:8080");
	cfg_free(cfg);
	assert_error("", "proxy = \"ftp://u:pr0xypw@h:21\";", 5, "proxy must be \"\", \"env\" or a URL");
	assert_error("", "proxy = \"proxy.example:3128\";", 5, "proxy must be");
	assert_error("", "proxy = \"http://u:pr0xypw@:3128\";", 5, "proxy is not a valid URL");
	assert_error("", "proxy = 3128;", 5, "proxy must be a string");
	assert_error("proxy = \"Env\";", "", 2, "proxy must be");
}

static void types_and_bounds(void **state)
{
	(void)state;
	assert_error("", "allow_private_addresses = 1;", 5,
		     "allow_private_addresses must be true or false");
	assert_error("allow_private_addresses = \"yes\";", "", 2,
		     "allow_private_addresses must be true or false");
	assert_error("", "max_per_second = -1;", 5, "max_per_second");
	assert_error("", "max_per_second = 1000001;", 5, "max_per_second");
	assert_error("", "max_per_second = 2.5;", 5, "max_per_second");
}

static void files_must_be_readable(void **state)
{
	char path[160], keys[512];

	(void)state;
	assert_error("", "tls_ca_file = \"missing-ca.pem\";", 5,
		     "cannot read tls_ca_file (relative to the config file's directory)");
	assert_error("tls_client_cert = \"/nonexistent/c.pem\";", "", 2,
		     "cannot read tls_client_cert: No such file or directory");
	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	write_file(path, "not a certificate\n");
	/* Relative to the config file's directory. */
	assert_error("", "tls_client_cert = \"junk.pem\";", 5,
		     "tls_client_cert and tls_client_key go together");
	snprintf(keys, sizeof(keys), "tls_client_cert = \"junk.pem\";\ntls_client_key = \"%s\";",
		 path);
	assert_error("", keys, 5, "tls_client_cert is not a PEM certificate");
	assert_error("", "tls_client_key_password_env = \"HSB_NO_SUCH_VARIABLE_X\";", 5,
		     "the environment variable HSB_NO_SUCH_VARIABLE_X is not set");
	assert_error("", "tls_client_key_password = \"k3ypw\";", 5,
		     "unknown key \"tls_client_key_password\"");
}

static void a_ca_file_is_kept_with_its_path(void **state)
{
	char path[160];
	struct cfg *cfg;

	(void)state;
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	write_file(path, "x\n");
	cfg = load("tls_ca_file = \"ca.pem\";", "");
	assert_non_null(cfg);
	assert_string_equal(cfg->subs[0].egress.tls_ca_file, path);
	cfg_free(cfg);
	/* "" drops the delivery group's */
	cfg = load("tls_ca_file = \"ca.pem\";", "tls_ca_file = \"\";");
	assert_non_null(cfg);
	assert_null(cfg->subs[0].egress.tls_ca_file);
	cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_are_no_proxy_no_limit_and_the_guard_on),
	    cmocka_unit_test(a_subscription_replaces_the_delivery_groups_values),
	    cmocka_unit_test(proxy_forms),
	    cmocka_unit_test(types_and_bounds),
	    cmocka_unit_test(files_must_be_readable),
	    cmocka_unit_test(a_ca_file_is_kept_with_its_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
