/* Unit tests for notify.c: $NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID
 * parsing, the STATUS summary line, and what is due when (READY, RELOADING,
 * STOPPING, STATUS, WATCHDOG) with the time passed in; no socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hsbridge/notify.h"

#define SEC 1000000LL

static void socket_addr_path_and_abstract(void **state)
{
	struct sockaddr_un sa;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(ntf_socket_addr("/run/systemd/notify", &sa, &len), 0);
	assert_int_equal(sa.sun_family, AF_UNIX);
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	/* a path counts its NUL */
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);

	assert_int_equal(ntf_socket_addr("@hsb/notify", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "hsb/notify", 10);
	/* an abstract name does not: its length is exact */
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 11);
}

static void socket_addr_refuses_what_is_not_a_socket_name(void **state)
{
	char long_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	struct sockaddr_un sa;
	socklen_t len = 0;
	static const char *bad[] = {"", "/", "@", "relative/path", "notify", "vsock:2:1234"};

	(void)state;
	assert_int_equal(ntf_socket_addr(NULL, &sa, &len), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ntf_socket_addr(bad[i], &sa, &len) != -1)
			fail_msg("%s accepted", bad[i]);
	}
	/* sun_path - 1 characters and the NUL fit; one more does not */
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[sizeof(long_path) - 2] = '\0';
	assert_int_equal(ntf_socket_addr(long_path, &sa, &len), 0);
	long_path[sizeof(long_path) - 2] = 'a';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(ntf_socket_addr(long_path, &sa, &len), -1);
}

struct watchdog_case {
	const char *usec, *pid;
	long long want;
};

static const struct watchdog_case watchdog_cases[] = {
    {"30000000", NULL, 15000000},   /* half the interval */
    {"30000000", "", 15000000},	    /* an empty WATCHDOG_PID is no WATCHDOG_PID */
    {"30000000", "4242", 15000000}, /* ours */
    {"30000000", "4243", 0},	    /* another process's watchdog */
    {"30000000", "0", 0},
    {"30000000", "-4242", 0},
    {"30000000", "4242x", 0},
    {"1", NULL, 1}, /* never 0, which would mean off */
    {"3", NULL, 1},
    {NULL, NULL, 0},
    {"", NULL, 0},
    {"0", NULL, 0},
    {"-5", NULL, 0},
    {"+5", NULL, 0},
    {" 5", NULL, 0},
    {"5 ", NULL, 0},
    {"5s", NULL, 0},
    {"0x10", NULL, 0},
    {"99999999999999999999", NULL, 0},
    {NULL, "4242", 0},
};

static void watchdog_usec_and_pid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(watchdog_cases) / sizeof(watchdog_cases[0]); i++) {
		const struct watchdog_case *c = &watchdog_cases[i];
		long long got = ntf_watchdog_every_us(c->usec, c->pid, 4242);

		if (got != c->want)
			fail_msg("WATCHDOG_USEC=%s WATCHDOG_PID=%s: %lld, want %lld",
				 c->usec ? c->usec : "(unset)", c->pid ? c->pid : "(unset)", got,
				 c->want);
	}
}

struct summary_case {
	struct ntf_figures f;
	const char *want;
};

static const struct summary_case summaries[] = {
    {{.connected = true, .consuming = 3, .in_flight = 12, .breakers_open = 1},
     "consuming 3 subscriptions, 12 in flight, 1 breaker open"},
    {{.connected = true, .consuming = 1, .in_flight = 0}, "consuming 1 subscription, 0 in flight"},
    {{.connected = true, .consuming = 0, .in_flight = 0, .breakers_open = 2},
     "consuming 0 subscriptions, 0 in flight, 2 breakers open"},
    {{.connected = true, .consuming = 2, .in_flight = 5, .held = 1, .blocked = true},
     "consuming 2 subscriptions, 5 in flight, 1 copy held, copies blocked by a broker alarm"},
    {{.connected = true,
      .consuming = 2,
      .in_flight = 5,
      .held = 3,
      .copies_down = true,
      .blocked = true},
     "consuming 2 subscriptions, 5 in flight, 3 copies held, copy connection down"},
    {{.connected = false, .retrying = true, .in_flight = 0}, "broker unavailable, retrying"},
    {{.connected = false, .retrying = false}, "connecting to the broker"},
    {{.connected = true, .reloading = true, .in_flight = 4, .consuming = 2},
     "reloading: draining 4 in flight"},
    {{.connected = false, .reloading = true, .in_flight = 0}, "reloading: draining 0 in flight"},
    {{.connected = true, .reloading = true, .stopping = true, .in_flight = 7},
     "stopping: 7 in flight"},
};

static void summary_lines(void **state)
{
	char buf[NTF_STATUS_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++)
		assert_string_equal(ntf_summary(&summaries[i].f, buf, sizeof(buf)),
				    summaries[i].want);
}

/* A summary longer than its buffer is cut, never overrun, and stays one line. */
static void summary_is_cut_to_its_buffer(void **state)
{
	struct ntf_figures f = {.connected = true,
				.consuming = 3,
				.in_flight = 12,
				.breakers_open = 1,
				.held = 9,
				.blocked = true};
	char buf[24];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	ntf_summary(&f, buf, 20);
	assert_int_equal(strlen(buf), 19);
	assert_int_equal(buf[20], 'x');
	assert_null(strchr(buf, '\n'));
}

static const struct ntf_figures down = {.retrying = true};
static const struct ntf_figures up = {.connected = true, .consuming = 2, .in_flight = 0};

/* What ntf_due writes, its returned length checked ("" when nothing is due). */
static const char *due(struct ntf *n, const struct ntf_figures *f, long long now_us, char *msg)
{
	size_t len = ntf_due(n, f, now_us, msg, NTF_MSG_MAX);

	assert_int_equal(len, strlen(msg));
	return msg;
}

static const char *reload(struct ntf *n, long long now_us, char *msg)
{
	size_t len = ntf_reload_msg(n, now_us, msg, NTF_MSG_MAX);

	assert_int_equal(len, strlen(msg));
	return msg;
}

static const char *stop(struct ntf *n, char *msg)
{
	size_t len = ntf_stop_msg(n, msg, NTF_MSG_MAX);

	assert_int_equal(len, strlen(msg));
	return msg;
}

/* Nothing but STATUS while the broker is down; READY=1 with the STATUS at
 * the first connected tick, once. */
static void ready_once_consuming(void **state)
{
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_equal(due(&n, &down, 0, msg), "STATUS=broker unavailable, retrying");
	assert_string_equal(due(&n, &down, 5 * SEC, msg), "");
	assert_string_equal(due(&n, &up, 5 * SEC + 1, msg),
			    "READY=1\nSTATUS=consuming 2 subscriptions, 0 in flight");
	assert_true(n.ready);
	/* a reconnect later is no new start-up */
	assert_string_equal(due(&n, &down, 10 * SEC, msg), "STATUS=broker unavailable, retrying");
	assert_string_equal(due(&n, &up, 20 * SEC, msg),
			    "STATUS=consuming 2 subscriptions, 0 in flight");
}

/* A changed summary waits for the end of the interval, then goes out with
 * what it is by then; the loop is told to wake for it. */
static void status_is_rate_limited(void **state)
{
	struct ntf_figures f = up;
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_not_equal(due(&n, &f, 0, msg), "");
	f.in_flight = 1;
	assert_string_equal(due(&n, &f, NTF_STATUS_EVERY_US / 2, msg), "");
	assert_int_equal(ntf_wait_ms(&n, NTF_STATUS_EVERY_US / 2, 5000),
			 NTF_STATUS_EVERY_US / 2 / 1000);
	f.in_flight = 2;
	assert_string_equal(due(&n, &f, NTF_STATUS_EVERY_US, msg),
			    "STATUS=consuming 2 subscriptions, 2 in flight");
	/* unchanged: nothing, and no reason to wake early once the interval is over */
	assert_string_equal(due(&n, &f, 3 * NTF_STATUS_EVERY_US, msg), "");
	assert_int_equal(ntf_wait_ms(&n, 3 * NTF_STATUS_EVERY_US, 5000), 5000);
}

/* RELOADING=1 with the monotonic time, READY=1 when the staged config is
 * gone: applied or rejected alike. */
static void reload_then_ready(void **state)
{
	struct ntf_figures f = up;
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_not_equal(due(&n, &f, 0, msg), "");
	assert_string_equal(
	    reload(&n, 123456789012LL, msg),
	    "RELOADING=1\nMONOTONIC_USEC=123456789012\nSTATUS=reloading the config");
	/* a second SIGHUP during the same reload announces nothing new */
	assert_string_equal(reload(&n, 123456789999LL, msg), "");
	f.reloading = true;
	f.in_flight = 3;
	assert_string_equal(due(&n, &f, 2 * SEC, msg), "STATUS=reloading: draining 3 in flight");
	f.reloading = false;
	f.in_flight = 0;
	assert_string_equal(due(&n, &f, 2 * SEC + 1, msg),
			    "READY=1\nSTATUS=consuming 2 subscriptions, 0 in flight");
	/* rejected at once (nothing staged), even while disconnected: READY=1 */
	assert_string_not_equal(reload(&n, 5 * SEC, msg), "");
	assert_string_equal(due(&n, &down, 5 * SEC, msg),
			    "READY=1\nSTATUS=broker unavailable, retrying");
	assert_false(n.reloading);
}

/* Before the start-up is over there is no reload to announce: the READY=1
 * that ends the start-up covers it. */
static void no_reloading_before_ready(void **state)
{
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_equal(reload(&n, 1, msg), "");
	assert_false(n.reloading);
	assert_string_equal(due(&n, &up, 2, msg),
			    "READY=1\nSTATUS=consuming 2 subscriptions, 0 in flight");
}

/* STOPPING=1 once; after it no READY=1, not even for a reload under way. */
static void stopping_ends_ready(void **state)
{
	struct ntf_figures f = up;
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_not_equal(due(&n, &f, 0, msg), "");
	assert_string_not_equal(reload(&n, 1, msg), "");
	assert_string_equal(stop(&n, msg), "STOPPING=1\nSTATUS=stopping");
	assert_string_equal(stop(&n, msg), "");
	f.stopping = true;
	f.in_flight = 2;
	assert_string_equal(due(&n, &f, 2 * SEC, msg), "STATUS=stopping: 2 in flight");
	assert_string_equal(reload(&n, 3 * SEC, msg), "");

	/* stopped before ever being ready: no READY=1 after STOPPING=1 */
	ntf_init(&n, 0, 0);
	assert_string_not_equal(stop(&n, msg), "");
	f.stopping = false;
	assert_null(strstr(due(&n, &f, 5 * SEC, msg), "READY=1"));
}

/* WATCHDOG=1 at once, then every interval, whatever else is sent; the loop
 * wakes for it, rounded up so that it is due when the wait ends. */
static void watchdog_every_interval(void **state)
{
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 500000, 100);
	assert_string_equal(due(&n, &down, 100, msg),
			    "STATUS=broker unavailable, retrying\nWATCHDOG=1");
	assert_int_equal(ntf_wait_ms(&n, 100, 60000), 500);
	assert_int_equal(ntf_wait_ms(&n, 1100, 60000), 499); /* 499 ms exactly */
	assert_int_equal(ntf_wait_ms(&n, 1101, 60000), 499); /* 498.999 ms, rounded up */
	assert_int_equal(ntf_wait_ms(&n, 1099, 60000), 500); /* 499.001 ms, rounded up */
	assert_string_equal(due(&n, &down, 500099, msg), "");
	assert_int_equal(ntf_wait_ms(&n, 500099, 60000), 1);
	assert_string_equal(due(&n, &up, 500100, msg),
			    "READY=1\nSTATUS=consuming 2 subscriptions, 0 in flight\nWATCHDOG=1");
	assert_string_equal(due(&n, &up, 1000100, msg), "WATCHDOG=1");
	/* the wait never grows past the one asked for */
	assert_int_equal(ntf_wait_ms(&n, 1000100, 20), 20);
	assert_int_equal(ntf_wait_ms(&n, 9000000, 20), 0);
}

/* A line that does not fit is left out whole, never cut: a cut STATUS=
 * or MONOTONIC_USEC= would tell systemd something wrong. */
static void a_line_that_does_not_fit_is_left_out(void **state)
{
	struct ntf n;
	char msg[24];

	(void)state;
	ntf_init(&n, 1000, 0);
	memset(msg, 'x', sizeof(msg));
	assert_int_equal(ntf_due(&n, &up, 0, msg, 20), strlen("READY=1\nWATCHDOG=1"));
	assert_string_equal(msg, "READY=1\nWATCHDOG=1");
	assert_int_equal(msg[20], 'x');
	ntf_init(&n, 0, 0);
	n.ready = true;
	assert_int_equal(ntf_reload_msg(&n, 123456789, msg, 20), strlen("RELOADING=1"));
	assert_string_equal(msg, "RELOADING=1");
}

static void no_watchdog_no_wakeups(void **state)
{
	struct ntf n;
	char msg[NTF_MSG_MAX];

	(void)state;
	ntf_init(&n, 0, 0);
	assert_string_not_equal(due(&n, &up, 0, msg), "");
	for (long long t = 2 * SEC; t < 60 * SEC; t += 7 * SEC) {
		assert_string_equal(due(&n, &up, t, msg), "");
		assert_int_equal(ntf_wait_ms(&n, t, 1000), 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(socket_addr_path_and_abstract),
	    cmocka_unit_test(socket_addr_refuses_what_is_not_a_socket_name),
	    cmocka_unit_test(watchdog_usec_and_pid),
	    cmocka_unit_test(summary_lines),
	    cmocka_unit_test(summary_is_cut_to_its_buffer),
	    cmocka_unit_test(ready_once_consuming),
	    cmocka_unit_test(status_is_rate_limited),
	    cmocka_unit_test(reload_then_ready),
	    cmocka_unit_test(no_reloading_before_ready),
	    cmocka_unit_test(stopping_ends_ready),
	    cmocka_unit_test(watchdog_every_interval),
	    cmocka_unit_test(a_line_that_does_not_fit_is_left_out),
	    cmocka_unit_test(no_watchdog_no_wakeups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
