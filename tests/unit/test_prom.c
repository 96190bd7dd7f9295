/* Unit tests for prom.c: the figures' store (binding across reloads,
 * counting) and the text exposition (families, histogram, escaping). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsbridge/prom.h"

static char *render(const struct prom *p)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(prom_render(p, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

/* The value of the sample line that starts with `series ` in text. */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, series, n) == 0 && l[n] == ' ')
			return strtoll(l + n + 1, NULL, 10);
	}
	fail_msg("no sample %s in:\n%s", series, text);
	return -1;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, line, n) == 0 && (l[n] == '\n' || l[n] == '\0'))
			return true;
	}
	return false;
}

static void bind(struct prom *p, const char *const *names, size_t n)
{
	assert_int_equal(prom_bind(p, names, n), 0);
	assert_int_equal(p->n_subs, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(prom_sub_at(p, i)->name, names[i]);
}

static void status_classes_cover_every_status(void **state)
{
	static const struct {
		int status;
		enum prom_class c;
	} cases[] = {
	    {0, PROM_ERROR},   {100, PROM_1XX}, {199, PROM_1XX},   {200, PROM_2XX},
	    {204, PROM_2XX},   {299, PROM_2XX}, {300, PROM_3XX},   {399, PROM_3XX},
	    {400, PROM_4XX},   {410, PROM_4XX}, {499, PROM_4XX},   {500, PROM_5XX},
	    {599, PROM_5XX},   {600, PROM_OTHER}, {99, PROM_OTHER}, {-1, PROM_OTHER},
	    {999, PROM_OTHER},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (prom_class_of(cases[i].status) != cases[i].c)
			fail_msg("status %d: class %d, want %d", cases[i].status,
				 prom_class_of(cases[i].status), cases[i].c);
	}
}

static void empty_store_renders_broker_families_only(void **state)
{
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "1.2.3");
	t = render(&p);
	assert_true(has_line(t, "hsbridge_build_info{version=\"1.2.3\"} 1"));
	assert_true(has_line(t, "hsbridge_ready 0"));
	assert_true(has_line(t, "hsbridge_broker_connected{connection=\"consuming\"} 0"));
	assert_true(has_line(t, "hsbridge_broker_connected{connection=\"copies\"} 0"));
	assert_true(has_line(t, "hsbridge_broker_reconnects_total 0"));
	assert_null(strstr(t, "sub=\""));
	/* Every family is announced, even without samples. */
	assert_true(has_line(t, "# TYPE hsbridge_deliveries_total counter"));
	assert_true(has_line(t, "# TYPE hsbridge_attempt_duration_seconds histogram"));
	assert_true(has_line(t, "# TYPE hsbridge_breaker_state gauge"));
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);
	prom_free(&p);
}

static void fresh_subscription_shows_every_series_at_zero(void **state)
{
	static const char *const names[] = {"clinic-portal"};
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "0.1.0");
	bind(&p, names, 1);
	prom_reason_known(prom_sub_at(&p, 0), "gone");
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"clinic-portal\",outcome=\"delivered\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"clinic-portal\",outcome=\"retry\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"clinic-portal\",outcome=\"parked\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_parked_total{sub=\"clinic-portal\",reason=\"gone\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"clinic-portal\",class=\"error\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_attempt_duration_seconds_bucket{sub=\"clinic-portal\",le=\"+Inf\"}"), 0);
	assert_true(has_line(t, "hsbridge_attempt_duration_seconds_sum{sub=\"clinic-portal\"} 0.000"));
	assert_int_equal(sample(t, "hsbridge_in_flight{sub=\"clinic-portal\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_copies_held{sub=\"clinic-portal\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_copies_unconfirmed{sub=\"clinic-portal\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"clinic-portal\",state=\"closed\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"clinic-portal\",state=\"open\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"clinic-portal\",state=\"half_open\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_opens_total{sub=\"clinic-portal\"}"), 0);
	free(t);
	prom_free(&p);
}

static void attempts_count_outcome_class_and_reason(void **state)
{
	static const char *const names[] = {"a", "b"};
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "0.1.0");
	bind(&p, names, 2);
	prom_attempt(prom_sub_at(&p, 0), PROM_DELIVERED, 200, 12, NULL);
	prom_attempt(prom_sub_at(&p, 0), PROM_DELIVERED, 204, 3, "ignored");
	prom_attempt(prom_sub_at(&p, 0), PROM_RETRY, 503, 40, NULL);
	prom_attempt(prom_sub_at(&p, 0), PROM_RETRY, 0, 2000, NULL);
	prom_attempt(prom_sub_at(&p, 0), PROM_PARKED, 410, 7, "gone");
	prom_attempt(prom_sub_at(&p, 0), PROM_NO_OUTCOME, 500, 1, NULL);
	prom_parked(prom_sub_at(&p, 1), "invalid_payload");
	prom_parked(prom_sub_at(&p, 1), "invalid_payload");
	prom_attempt(NULL, PROM_DELIVERED, 200, 1, NULL); /* no subscription: nothing */
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"a\",outcome=\"delivered\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"a\",outcome=\"retry\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"a\",outcome=\"parked\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_parked_total{sub=\"a\",reason=\"gone\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"a\",class=\"2xx\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"a\",class=\"5xx\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"a\",class=\"4xx\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"a\",class=\"error\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_attempt_duration_seconds_count{sub=\"a\"}"), 6);
	assert_true(has_line(t, "hsbridge_attempt_duration_seconds_sum{sub=\"a\"} 2.063"));
	/* An event parked without an attempt: an outcome, no attempt. */
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"b\",outcome=\"parked\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_parked_total{sub=\"b\",reason=\"invalid_payload\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_attempt_duration_seconds_count{sub=\"b\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_attempts_total{sub=\"b\",class=\"error\"}"), 0);
	free(t);
	prom_free(&p);
}

/* le is inclusive: an attempt of exactly a bound's ms is in that bucket;
 * the buckets are cumulative and +Inf holds everything. */
static void histogram_buckets_are_cumulative_and_inclusive(void **state)
{
	static const char *const names[] = {"h"};
	static const struct {
		long ms;
		const char *le; /* the first bucket that holds it */
	} cases[] = {
	    {-5, "0.005"}, {0, "0.005"},   {5, "0.005"},  {6, "0.01"},	  {10, "0.01"},
	    {11, "0.025"}, {100, "0.1"},   {101, "0.25"}, {1000, "1"},	  {2500, "2.5"},
	    {2501, "5"},   {60000, "60"},  {60001, "120"}, {300000, "300"}, {300001, "+Inf"},
	};
	char series[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prom p;
		char *t;
		bool reached = false;

		prom_init(&p, "x");
		bind(&p, names, 1);
		prom_attempt(prom_sub_at(&p, 0), PROM_DELIVERED, 200, cases[i].ms, NULL);
		t = render(&p);
		for (int b = 0; b <= PROM_N_BUCKETS; b++) {
			char le[16];

			if (b < PROM_N_BUCKETS)
				snprintf(le, sizeof(le), "%g", (double)prom_bucket_ms[b] / 1000.0);
			else
				snprintf(le, sizeof(le), "+Inf");
			reached = reached || strcmp(le, cases[i].le) == 0;
			snprintf(series, sizeof(series),
				 "hsbridge_attempt_duration_seconds_bucket{sub=\"h\",le=\"%s\"}", le);
			if (sample(t, series) != (reached ? 1 : 0))
				fail_msg("%ld ms: bucket le=%s holds %lld", cases[i].ms, le,
					 sample(t, series));
		}
		assert_true(reached);
		free(t);
		prom_free(&p);
	}
}

static void bounds_are_increasing_and_rendered_in_seconds(void **state)
{
	(void)state;
	for (int b = 1; b < PROM_N_BUCKETS; b++)
		assert_true(prom_bucket_ms[b] > prom_bucket_ms[b - 1]);
	assert_int_equal(prom_bucket_ms[0], 5);
	assert_int_equal(prom_bucket_ms[PROM_N_BUCKETS - 1], 300000);
}

/* A reload keeps the figures of the names it keeps (same address: the
 * bridge's pointers stay good), zeroes new ones, drops removed ones. */
static void bind_keeps_kept_names_and_drops_removed_ones(void **state)
{
	static const char *const before[] = {"keep", "gone-sub"};
	static const char *const after[] = {"new", "keep"};
	static const char *const again[] = {"gone-sub"};
	struct prom p;
	struct prom_sub *kept;
	char *t;

	(void)state;
	prom_init(&p, "x");
	bind(&p, before, 2);
	kept = prom_sub_at(&p, 0);
	prom_attempt(kept, PROM_DELIVERED, 200, 1, NULL);
	prom_attempt(prom_sub_at(&p, 1), PROM_RETRY, 500, 1, NULL);
	kept->breaker_opens = 3;
	bind(&p, after, 2);
	assert_ptr_equal(prom_sub_at(&p, 1), kept);
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"keep\",outcome=\"delivered\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_breaker_opens_total{sub=\"keep\"}"), 3);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"new\",outcome=\"delivered\"}"), 0);
	assert_null(strstr(t, "gone-sub"));
	/* Config order: new before keep. */
	assert_true(strstr(t, "sub=\"new\"") < strstr(t, "sub=\"keep\""));
	free(t);
	/* A name that comes back starts from zero. */
	bind(&p, again, 1);
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"gone-sub\",outcome=\"retry\"}"), 0);
	assert_null(strstr(t, "sub=\"keep\""));
	free(t);
	/* No subscription at all. */
	bind(&p, NULL, 0);
	t = render(&p);
	assert_null(strstr(t, "sub=\""));
	free(t);
	prom_free(&p);
	assert_int_equal(p.n_subs, 0);
}

static void gauges_render_as_set(void **state)
{
	static const char *const names[] = {"g"};
	struct prom p;
	struct prom_sub *s;
	char *t;

	(void)state;
	prom_init(&p, "x");
	bind(&p, names, 1);
	s = prom_sub_at(&p, 0);
	s->in_flight = 7;
	s->copies_held = 2;
	s->copies_unconfirmed = 3;
	s->breaker = PROM_BREAKER_HALF_OPEN;
	s->breaker_opens = 4;
	p.connected = true;
	p.copies_connected = false;
	p.ready = true;
	p.reconnects = 5;
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_in_flight{sub=\"g\"}"), 7);
	assert_int_equal(sample(t, "hsbridge_copies_held{sub=\"g\"}"), 2);
	assert_int_equal(sample(t, "hsbridge_copies_unconfirmed{sub=\"g\"}"), 3);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"g\",state=\"closed\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"g\",state=\"open\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"g\",state=\"half_open\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_breaker_opens_total{sub=\"g\"}"), 4);
	assert_int_equal(sample(t, "hsbridge_broker_connected{connection=\"consuming\"}"), 1);
	assert_int_equal(sample(t, "hsbridge_broker_connected{connection=\"copies\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_ready"), 1);
	assert_int_equal(sample(t, "hsbridge_broker_reconnects_total"), 5);
	free(t);
	/* A negative gauge (never set so) shows as 0, not as a huge number. */
	s->in_flight = -1;
	s->breaker = PROM_BREAKER_OPEN;
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_in_flight{sub=\"g\"}"), 0);
	assert_int_equal(sample(t, "hsbridge_breaker_state{sub=\"g\",state=\"open\"}"), 1);
	free(t);
	prom_free(&p);
}

static void reasons_past_the_table_count_as_other(void **state)
{
	static const char *const names[] = {"r"};
	char reason[PROM_REASON_MAX + 8];
	char long_reason[PROM_REASON_MAX + 8];
	char series[96];
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "x");
	bind(&p, names, 1);
	for (int i = 0; i < PROM_REASONS + 3; i++) {
		snprintf(reason, sizeof(reason), "reason_%d", i);
		prom_parked(prom_sub_at(&p, 0), reason);
	}
	memset(long_reason, 'x', PROM_REASON_MAX);
	long_reason[PROM_REASON_MAX] = '\0';
	prom_parked(prom_sub_at(&p, 0), long_reason);
	prom_parked(prom_sub_at(&p, 0), NULL);
	prom_reason_known(prom_sub_at(&p, 0), "later"); /* table full: not shown */
	prom_reason_known(NULL, "x");
	t = render(&p);
	assert_int_equal(sample(t, "hsbridge_parked_total{sub=\"r\",reason=\"reason_0\"}"), 1);
	snprintf(series, sizeof(series), "hsbridge_parked_total{sub=\"r\",reason=\"reason_%d\"}",
		 PROM_REASONS - 1);
	assert_int_equal(sample(t, series), 1);
	assert_int_equal(sample(t, "hsbridge_parked_total{sub=\"r\",reason=\"other\"}"), 5);
	assert_null(strstr(t, "later"));
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"r\",outcome=\"parked\"}"),
			 PROM_REASONS + 5);
	free(t);
	prom_free(&p);
}

static void label_values_are_escaped(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain-name_1", "plain-name_1"},
	    {"a\\b", "a\\\\b"},
	    {"say \"hi\"", "say \\\"hi\\\""},
	    {"two\nlines", "two\\nlines"},
	    {"", ""},
	    {"\\\"\n", "\\\\\\\"\\n"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = prom_escape_label(cases[i].in, buf, sizeof(buf));

		assert_string_equal(buf, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
	/* Cut to fit, always terminated, the needed length returned. */
	assert_int_equal(prom_escape_label("ab\"cd", buf, 4), 6);
	assert_string_equal(buf, "ab\\");
	assert_int_equal(prom_escape_label("abc", NULL, 0), 3);
}

static void names_and_version_are_escaped_in_the_exposition(void **state)
{
	static const char *const names[] = {"we\"ird\\sub\nx"};
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "1.0\"beta\\");
	bind(&p, names, 1);
	t = render(&p);
	assert_true(has_line(t, "hsbridge_build_info{version=\"1.0\\\"beta\\\\\"} 1"));
	assert_int_equal(sample(t, "hsbridge_in_flight{sub=\"we\\\"ird\\\\sub\\nx\"}"), 0);
	/* No raw line feed inside a sample: every line starts a sample or a comment. */
	for (const char *l = t; *l; l = strchr(l, '\n') + 1)
		assert_true(strncmp(l, "hsbridge_", 9) == 0 || l[0] == '#');
	free(t);
	prom_free(&p);
}

/* Every family has HELP then TYPE, and no name appears twice as a family. */
static void every_family_is_announced_once_with_help_and_type(void **state)
{
	static const char *const names[] = {"a", "b"};
	struct prom p;
	char *t;
	char prev_help[128] = "";
	int families = 0;

	(void)state;
	prom_init(&p, "x");
	bind(&p, names, 2);
	t = render(&p);
	for (char *l = t; *l; l = strchr(l, '\n') + 1) {
		char name[128];

		if (sscanf(l, "# HELP %127s", name) == 1) {
			char probe[160];

			snprintf(probe, sizeof(probe), "# HELP %s ", name);
			assert_ptr_equal(strstr(t, probe), l);
			snprintf(prev_help, sizeof(prev_help), "%s", name);
			families++;
		} else if (sscanf(l, "# TYPE %127s", name) == 1) {
			assert_string_equal(name, prev_help);
		}
	}
	assert_int_equal(families, 16); /* 13, and the three of history (issue 11) */
	free(t);
	prom_free(&p);
}

/* The history figures (issue 11): written, dropped by reason (each shown
 * from the start), buffered. */
static void history_figures_are_rendered(void **state)
{
	struct prom p;
	char *t;

	(void)state;
	prom_init(&p, "x");
	p.history_written = 7;
	p.history_dropped[PROM_HIST_UNROUTABLE] = 2;
	p.history_buffered = 3;
	t = render(&p);
	assert_non_null(strstr(t, "\nhsbridge_history_written_total 7\n"));
	assert_non_null(strstr(t, "\nhsbridge_history_dropped_total{reason=\"buffer_full\"} 0\n"));
	assert_non_null(strstr(t, "\nhsbridge_history_dropped_total{reason=\"refused\"} 0\n"));
	assert_non_null(strstr(t, "\nhsbridge_history_dropped_total{reason=\"unroutable\"} 2\n"));
	assert_non_null(strstr(t, "\nhsbridge_history_dropped_total{reason=\"unconfirmed\"} 0\n"));
	assert_non_null(strstr(t, "\nhsbridge_history_buffered 3\n"));
	free(t);
	prom_free(&p);
}

/* Many subscriptions: the buffer grows past its first size. */
static void large_exposition_grows_its_buffer(void **state)
{
	enum { N = 300 };
	static char store[N][16];
	const char *names[N];
	struct prom p;
	char *t;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(store[i], sizeof(store[i]), "sub-%03d", i);
		names[i] = store[i];
	}
	prom_init(&p, "x");
	bind(&p, names, N);
	prom_attempt(prom_sub_at(&p, N - 1), PROM_DELIVERED, 200, 1, NULL);
	t = render(&p);
	assert_true(strlen(t) > 100000);
	assert_int_equal(sample(t, "hsbridge_deliveries_total{sub=\"sub-299\",outcome=\"delivered\"}"), 1);
	free(t);
	prom_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_classes_cover_every_status),
	    cmocka_unit_test(empty_store_renders_broker_families_only),
	    cmocka_unit_test(fresh_subscription_shows_every_series_at_zero),
	    cmocka_unit_test(attempts_count_outcome_class_and_reason),
	    cmocka_unit_test(histogram_buckets_are_cumulative_and_inclusive),
	    cmocka_unit_test(bounds_are_increasing_and_rendered_in_seconds),
	    cmocka_unit_test(bind_keeps_kept_names_and_drops_removed_ones),
	    cmocka_unit_test(gauges_render_as_set),
	    cmocka_unit_test(reasons_past_the_table_count_as_other),
	    cmocka_unit_test(label_values_are_escaped),
	    cmocka_unit_test(names_and_version_are_escaped_in_the_exposition),
	    cmocka_unit_test(every_family_is_announced_once_with_help_and_type),
	    cmocka_unit_test(history_figures_are_rendered),
	    cmocka_unit_test(large_exposition_grows_its_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
