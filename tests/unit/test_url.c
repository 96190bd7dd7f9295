/* Unit tests for url.c: amqp:// and amqps:// URLs taken apart, rabbitmq-c's
 * defaults, vhost decoding, refusals, and the wipe of the copy that holds
 * the password. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "hsbridge/url.h"

/* Linked with -Wl,--wrap=free: url_amqp_clear's free comes here first, so
 * the test can look at the buffer while it is still allocated. */
void __real_free(void *p);
void __wrap_free(void *p);

static const char *watched;
static size_t watched_len;
static bool watched_freed;
static bool watched_wiped;

void __wrap_free(void *p)
{
	if (p && p == watched) {
		watched_freed = true;
		watched_wiped = true;
		for (size_t i = 0; i < watched_len; i++)
			watched_wiped = watched_wiped && watched[i] == '\0';
		watched = NULL;
	}
	__real_free(p);
}

struct valid_case {
	const char *url;
	bool ssl;
	const char *user;
	const char *password;
	const char *host;
	int port;
	const char *vhost;
};

static void url_parses_valid_urls_with_defaults_and_decoded_vhost(void **state)
{
	static const struct valid_case cases[] = {
	    {"amqp://u:p@h:1234/vh", false, "u", "p", "h", 1234, "vh"},
	    {"amqps://u:p@h/%2f", true, "u", "p", "h", 5671, "/"},
	    {"amqp://", false, "guest", "guest", "localhost", 5672, "/"},
	    {"amqps://", true, "guest", "guest", "localhost", 5671, "/"},
	    {"amqp://h", false, "guest", "guest", "h", 5672, "/"},
	    {"amqp://h/", false, "guest", "guest", "h", 5672, ""},
	    {"amqp://h/a%2Fb", false, "guest", "guest", "h", 5672, "a/b"},
	    {"amqp://u@h", false, "u", "guest", "h", 5672, "/"},
	    {"amqp://u:p%40w%2Fx@h", false, "u", "p@w/x", "h", 5672, "/"},
	    {"amqp://[::1]:5673/v", false, "guest", "guest", "::1", 5673, "v"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct valid_case *c = &cases[i];
		struct url_amqp u;

		print_message("%s\n", c->url);
		assert_int_equal(url_amqp_parse(c->url, &u), 0);
		assert_int_equal(u.ci.ssl != 0, c->ssl);
		assert_string_equal(u.ci.user, c->user);
		assert_string_equal(u.ci.password, c->password);
		assert_string_equal(u.ci.host, c->host);
		assert_int_equal(u.ci.port, c->port);
		assert_string_equal(u.ci.vhost, c->vhost);
		url_amqp_clear(&u);
	}
}

static void url_refuses_what_is_not_an_amqp_url_and_leaves_it_clear(void **state)
{
	static const char *const cases[] = {
	    "",		  "http://h/",	    "AMQP://h",	    "amqp//h",	       "amqp://h:",
	    "amqp://h:x", "amqp://h:99999", "amqp://h/a/b", "guest@localhost",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct url_amqp u;

		print_message("\"%s\"\n", cases[i]);
		memset(&u, 0xa5, sizeof(u));
		assert_int_equal(url_amqp_parse(cases[i], &u), -1);
		assert_null(u.buf);
		assert_int_equal(u.len, 0);
		assert_null(u.ci.password);
		/* Clearing a clear one is harmless. */
		url_amqp_clear(&u);
	}
}

static void url_parse_leaves_the_callers_string_alone(void **state)
{
	const char url[] = "amqp://u:p%40w@h:5672/%2f";
	struct url_amqp u;

	(void)state;
	assert_int_equal(url_amqp_parse(url, &u), 0);
	assert_string_equal(url, "amqp://u:p%40w@h:5672/%2f");
	assert_ptr_not_equal(u.buf, url);
	url_amqp_clear(&u);
}

/* How logs name a node: host:port and nothing of the credentials. */
static void url_node_is_host_and_port_without_credentials(void **state)
{
	static const struct {
		const char *url, *node;
	} cases[] = {
	    {"amqp://guest:s3cret@mq1.example:5673/%2f", "mq1.example:5673"},
	    {"amqps://u:p%40w@10.0.0.7/vh", "10.0.0.7:5671"},
	    {"amqp://h", "h:5672"},
	    {"amqp://u:pw@[::1]:5752/v", "[::1]:5752"},
	    {"amqp://u:pa/ss@h:5672/v", "(invalid URL)"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		url_amqp_node(cases[i].url, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].node);
		assert_null(strstr(buf, "s3cret"));
		assert_null(strstr(buf, "p%40w"));
	}
}

/* How `check` shows a broker URL: all of it but the password. */
static void url_show_is_all_but_the_password(void **state)
{
	static const struct {
		const char *url, *shown;
	} cases[] = {
	    {"amqp://guest:s3cret@mq1.example:5673/%2f", "amqp://mq1.example:5673, vhost /, user guest"},
	    {"amqps://u:p%40w@10.0.0.7/vh", "amqps://10.0.0.7:5671, vhost vh, user u"},
	    {"amqp://u:pw@[::1]:5752/v", "amqp://[::1]:5752, vhost v, user u"},
	    {"amqp://u:pw@h/", "amqp://h:5672, vhost \"\", user u"},
	    {"amqp://u:pa/ss@h:5672/v", "(invalid URL)"},
	};
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		url_amqp_show(cases[i].url, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].shown);
		assert_null(strstr(buf, "s3cret"));
		assert_null(strstr(buf, "p%40w"));
	}
}

static void url_clear_wipes_the_password_buffer_before_freeing_it(void **state)
{
	struct url_amqp u;

	(void)state;
	assert_int_equal(url_amqp_parse("amqps://user:s3cret-pass@broker:5671/vh", &u), 0);
	assert_non_null(u.buf);
	assert_true(u.len > 0);
	/* The decoded password lives inside the copy. */
	assert_true(u.ci.password >= u.buf && u.ci.password < u.buf + u.len);
	watched = u.buf;
	watched_len = u.len;
	watched_freed = false;
	watched_wiped = false;
	url_amqp_clear(&u);
	assert_true(watched_freed);
	assert_true(watched_wiped);
	assert_null(u.buf);
	assert_int_equal(u.len, 0);
	assert_null(u.ci.password);
	assert_null(u.ci.user);
	assert_null(u.ci.host);
}

static void listen_parses_ipv4_ipv6_and_localhost(void **state)
{
	static const struct {
		const char *in;
		int family;
		const char *host;
		unsigned port;
	} cases[] = {
	    {"127.0.0.1:9464", AF_INET, "127.0.0.1", 9464},
	    {"0.0.0.0:0", AF_INET, "0.0.0.0", 0},
	    {"localhost:65535", AF_INET, "127.0.0.1", 65535},
	    {"10.1.2.3:00080", AF_INET, "10.1.2.3", 80},
	    {"[::1]:9464", AF_INET6, "::1", 9464},
	    {"[::]:1", AF_INET6, "::", 1},
	    {"[fe80::1:2]:443", AF_INET6, "fe80::1:2", 443},
	    {"[::ffff:127.0.0.1]:9", AF_INET6, "::ffff:127.0.0.1", 9},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct url_listen a;

		print_message("%s\n", cases[i].in);
		assert_int_equal(url_listen_parse(cases[i].in, &a), 0);
		assert_int_equal(a.family, cases[i].family);
		assert_string_equal(a.host, cases[i].host);
		assert_int_equal(a.port, cases[i].port);
	}
}

static void listen_refuses_bad_hosts_ports_and_garbage(void **state)
{
	static const char *const cases[] = {
	    "",
	    ":",
	    "9464",
	    ":9464",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:65536",
	    "127.0.0.1:99999",
	    "127.0.0.1:123456",
	    "127.0.0.1:-1",
	    "127.0.0.1:+80",
	    "127.0.0.1: 80",
	    "127.0.0.1:80 ",
	    "127.0.0.1:8x",
	    "127.0.0.1:0x50",
	    " 127.0.0.1:80",
	    "256.0.0.1:80",
	    "127.0.0:80",
	    "example.com:80",
	    "LOCALHOST:80",
	    "::1:9464",
	    "[::1]",
	    "[::1:9464",
	    "::1]:9464",
	    "[]:80",
	    "[127.0.0.1]:80",
	    "[::1]x:80",
	    "[zz::1]:80",
	    "http://127.0.0.1:80",
	    "127.0.0.1:80/metrics",
	    "127.0.0.1:80:80",
	    "1234567890123456789012345678901234567890123456789:80",
	    "[1234:5678:1234:5678:1234:5678:1234:5678:1234:5678]:80",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct url_listen a;

		print_message("\"%s\"\n", cases[i]);
		memset(&a, 0xa5, sizeof(a));
		assert_int_equal(url_listen_parse(cases[i], &a), -1);
		assert_int_equal(a.family, 0);
		assert_int_equal(a.port, 0);
		assert_string_equal(a.host, "");
	}
	assert_int_equal(url_listen_parse(NULL, &(struct url_listen){0}), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(url_parses_valid_urls_with_defaults_and_decoded_vhost),
	    cmocka_unit_test(url_refuses_what_is_not_an_amqp_url_and_leaves_it_clear),
	    cmocka_unit_test(url_parse_leaves_the_callers_string_alone),
	    cmocka_unit_test(url_node_is_host_and_port_without_credentials),
	    cmocka_unit_test(url_show_is_all_but_the_password),
	    cmocka_unit_test(url_clear_wipes_the_password_buffer_before_freeing_it),
	    cmocka_unit_test(listen_parses_ipv4_ipv6_and_localhost),
	    cmocka_unit_test(listen_refuses_bad_hosts_ports_and_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
