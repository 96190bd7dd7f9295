/* cli: argument parsing and the one-shot commands; `run` hands over to the
 * bridge. */
#include "hsbridge/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/prctl.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hsbridge/bridge.h"
#include "hsbridge/broker.h"
#include "hsbridge/config.h"
#include "hsbridge/copy.h"
#include "hsbridge/event.h"
#include "hsbridge/log.h"
#include "hsbridge/mgmt.h"
#include "hsbridge/redact.h"
#include "hsbridge/topology.h"
#include "hsbridge/url.h"

#include "cli_int.h"

#define CONFIRM_TIMEOUT_MS 10000
/* Where the help of each command starts in the usage text. */
#define USAGE_COLUMN 23
/* The config of an installed bridge (DESIGN section 9). */
#define INSTALLED_CONFIG "/etc/hsbridge/hsbridge.conf"
#define SOURCE_TREE_CONFIG "etc/hsbridge.conf"

/* One command, written once: usage, recognition, operands and dispatch all
 * come from its row in commands[] (at the end of this file). */
struct command {
	const char *name;
	const char *operands; /* their usage text, "" for none */
	int min, max;	      /* how many operands */
	const char *option;   /* an option with a count after the operands, or NULL */
	bool json;	      /* takes --json (anywhere after the command) */
	bool secrets;	      /* signs or seals: reads secret_file and secret_env */
	bool no_config;	      /* reads no config at all */
	bool own_options;     /* reads its own options (cli_args.argc/argv) */
	int (*run)(struct cfg **cfgp, const struct cli_args *a);
	const char *help; /* the usage line; each '\n' continues it, indented */
};

static void on_stop_signal(int sig)
{
	(void)sig;
	bridge_request_stop();
}

static void on_reload_signal(int sig)
{
	(void)sig;
	bridge_request_reload();
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the wait in the loop returns and sees the flag. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* broker.url, one line per node, and the management API `status` asks. */
static void print_broker(const struct cfg *cfg)
{
	char buf[BRK_NAME_MAX + 64];
	char base[512];

	for (size_t i = 0; i < cfg->n_broker_urls; i++) {
		url_amqp_show(cfg->broker_urls[i], buf, sizeof(buf));
		if (cfg->n_broker_urls == 1)
			printf("broker:   %s (heartbeat %ds)\n", buf, cfg->heartbeat_s);
		else
			printf("broker:   node %zu of %zu: %s\n", i + 1, cfg->n_broker_urls, buf);
	}
	if (cfg->n_broker_urls > 1)
		printf("          `run` tries them in a shuffled order, commands in this order "
		       "(heartbeat %ds)\n",
		       cfg->heartbeat_s);
	mgmt_base_url(cfg, cfg->broker_urls[0], base, sizeof(base));
	if (cfg->management_url || cfg->n_broker_urls == 1)
		printf("management API (status only): %s\n", redact_url(base, buf, sizeof(buf)));
	else
		printf("management API (status only): on the node that answers, e.g. %s\n",
		       redact_url(base, buf, sizeof(buf)));
}

/* The circuit breaker's settings, on one line. */
static void print_breaker(const char *label, const struct breaker_conf *b)
{
	char cool[32], max[32];

	if (!b->enabled) {
		printf("%soff (every event gets its attempts, whatever the endpoint's state)\n",
		       label);
		return;
	}
	cfg_format_duration(b->cooldown_ms, cool, sizeof(cool));
	cfg_format_duration(b->max_cooldown_ms, max, sizeof(max));
	printf("%sopens after %d endpoint failures in a row or a 410; probes after %s, "
	       "doubling up to %s\n",
	       label, b->failures, cool, max);
}

static int cmd_check(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	char buf[BRK_NAME_MAX + 64];
	char label[32];
	char name[BRK_NAME_MAX];

	(void)a;
	printf("config %s is valid\n", cfg->path);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		printf("warning: %s\n", cfg->warnings[i]);
	print_broker(cfg);
	/* What the kernel says, not what main meant to set. */
	printf("core dumps: %s\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
					 ? "off (HSBRIDGE_ALLOW_CORE_DUMPS=1 allows them)"
					 : "allowed (they hold the secrets)");
	printf("exchange: %s (topic; services publish here, routing key = event type)\n",
	       cfg->exchange);
	printf("delivery: timeout %ld ms, up to %d in flight per subscription, bodies up to %zu "
	       "bytes, delivery limit %d\n",
	       cfg->timeout_ms, cfg->max_in_flight, cfg->max_body_bytes, cfg->delivery_limit);
	printf("retries:  attempt 1 at once");
	for (size_t i = 0; i < cfg->n_delays; i++) {
		cfg_format_duration(cfg->retry_delays_ms[i], label, sizeof(label));
		printf(", attempt %zu after %s", i + 2, label);
	}
	printf("; parked after %zu failed attempts\n", cfg->n_delays + 1);
	for (size_t i = 0; i < cfg->n_delays; i++) {
		topo_retry_name(cfg, i, name, sizeof(name));
		printf("  retry exchange + queue %s (ttl %ld ms)\n", name, cfg->retry_delays_ms[i]);
	}
	print_breaker("breaker:  ", &cfg->breaker);
	printf("metrics:  %s\n", cfg->metrics_listen ? cfg->metrics_listen
						      : "no listener (metrics.listen is unset)");
	if (cfg->history.enabled) {
		char age[32], size[32];

		topo_attempts_queue(cfg, name, sizeof(name));
		cfg_format_age(cfg->history.max_age_s, age, sizeof(age));
		cfg_format_bytes(cfg->history.max_bytes, size, sizeof(size));
		printf("history:  every attempt in stream %s (kept %s, at most %s; %ld bytes of each "
		       "answer)\n",
		       name, age, size, cfg->history.response_bytes);
	} else {
		printf("history:  off (no attempt records; hsbridge logs reads what is stored)\n");
	}
	printf("log:      level %s\n", log_level_name(cfg->log_level));
	printf("subscriptions: %zu\n", cfg->n_subs);
	for (size_t i = 0; i < cfg->n_subs; i++) {
		const struct cfg_sub *s = &cfg->subs[i];

		printf("\n%s (%s)\n", s->name,
		       s->active ? "active" : "inactive: queue kept, no bindings, no consumer");
		printf("  url:      %s\n", redact_url(s->url, buf, sizeof(buf)));
		printf("  events:  ");
		for (size_t j = 0; j < s->n_events; j++)
			printf(" %s%s", s->events[j], j + 1 < s->n_events ? "," : "");
		printf("\n");
		topo_sub_queue(cfg, s->name, name, sizeof(name));
		printf("  queue:    %s%s\n", name, s->active ? "" : " (unbound)");
		topo_parked_queue(cfg, s->name, name, sizeof(name));
		if (s->parked_max_length > 0)
			printf("  parked:   %s (at most %ld; when full, new parked copies wait and "
			       "their originals stay unacked)\n",
			       name, s->parked_max_length);
		else
			printf("  parked:   %s (no length limit)\n", name);
		printf("  limits:   %d in flight, timeout %ld ms\n", s->max_in_flight,
		       s->timeout_ms);
		printf("  secrets:  1 current, %zu previous\n", s->n_previous);
		cli_print_sub_extras(s);
		cli_print_sub_egress(s);
		print_breaker("  breaker:  ", &s->breaker);
	}
	return EX_OK;
}

/* The nodes of broker.url in the file's order, the first that answers: a
 * command is one short connection, and an operator can put the nearest
 * node first. Each node that does not answer is said on stderr. */
int cli_connect_channel(const struct cfg *cfg, const char *name, bool confirm, struct brk **b,
			size_t *node)
{
	char err[BRK_ERR_MAX];
	char where[BRK_NAME_MAX];
	int rc = BRK_ERR_CONNECTION;

	for (size_t i = 0; i < cfg->n_broker_urls; i++) {
		rc = brk_connect(cfg->broker_urls[i], cfg->heartbeat_s, cfg->ca_file, name, b, err,
				 sizeof(err));
		if (rc == 0)
			rc = brk_channel_open(*b, 1, err, sizeof(err));
		if (rc == 0 && confirm)
			rc = brk_confirm_select(*b, 1, err, sizeof(err));
		if (rc == 0) {
			if (node)
				*node = i;
			return EX_OK;
		}
		brk_close(*b);
		*b = NULL;
		if (cfg->n_broker_urls == 1) {
			fprintf(stderr, "hsbridge: %s\n", err);
			break;
		}
		url_amqp_node(cfg->broker_urls[i], where, sizeof(where));
		fprintf(stderr, "hsbridge: node %zu of %zu (%s): %s%s\n", i + 1, cfg->n_broker_urls,
			where, err, i + 1 < cfg->n_broker_urls ? "; trying the next" : "");
	}
	if (cfg->n_broker_urls > 1)
		fprintf(stderr, "hsbridge: no node of broker.url answered\n");
	return EX_UNAVAILABLE;
}

static int cmd_topology(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	struct brk *b = NULL;
	char err[BRK_ERR_MAX];
	int rc = cli_connect_channel(cfg, "hsbridge topology", false, &b, NULL);

	(void)a;
	if (rc != EX_OK)
		return rc;
	rc = topo_declare(b, 1, cfg, err, sizeof(err));
	if (rc == 0) {
		rc = topo_declare_attempts(b, 1, cfg, err, sizeof(err));
		/* The history never stops deliveries: said, not fatal. */
		if (rc == BRK_ERR_CHANNEL) {
			fprintf(stderr, "hsbridge: warning: %s\n", err);
			rc = 0;
		}
	}
	brk_close(b);
	if (rc != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		return rc == BRK_ERR_CHANNEL ? EX_CONFIG : EX_UNAVAILABLE;
	}
	printf("topology declared: exchange %s, %zu retry queues, %zu subscriptions\n",
	       cfg->exchange, cfg->n_delays, cfg->n_subs);
	return EX_OK;
}

/* All of standard input, NUL-terminated. NULL on error. */
static char *read_all(FILE *in, size_t *len)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, in);

		n += got;
		if (got == 0)
			break;
		if (cap - n - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	if (!buf || ferror(in)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool valid_type(const char *type)
{
	return ev_valid_pattern(type) && !strchr(type, '*') && !strchr(type, '#');
}

int cli_await_confirm(struct brk *b, bool *returned, char *err, size_t errlen)
{
	struct timespec start, now;
	struct brk_event ev;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long elapsed;

		if (brk_wait(b, &ev, 500, err, errlen) != 0)
			return EX_UNAVAILABLE;
		if (ev.kind == BRK_RETURN) {
			*returned = true;
		} else if (ev.kind == BRK_CONFIRM) {
			bool ack = ev.ack;

			brk_event_clear(&ev);
			if (!ack)
				snprintf(err, errlen, "the broker refused the event (nack)");
			return ack ? EX_OK : EX_TEMPFAIL;
		}
		brk_event_clear(&ev);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed > CONFIRM_TIMEOUT_MS) {
			snprintf(err, errlen, "no publisher confirm within %d ms",
				 CONFIRM_TIMEOUT_MS);
			return EX_TEMPFAIL;
		}
	}
}

/* The event publish sends: type checked, the JSON from json or standard
 * input prepared as the bridge would receive it, and its type the same as
 * type. EX_OK with *ev and *input (caller frees both), or EX_DATAERR. */
static int prepare_event(const struct cfg *cfg, const char *type, const char *json, long long now,
			 struct ev_event *ev, char **input)
{
	struct ev_input in;
	size_t len;

	if (!valid_type(type)) {
		fprintf(stderr,
			"hsbridge: \"%s\" is not an event type (words of a-z0-9_- joined by "
			"dots, e.g. document.uploaded)\n",
			type);
		return EX_DATAERR;
	}
	if (json) {
		*input = strdup(json);
		len = strlen(json);
	} else {
		*input = read_all(stdin, &len);
	}
	if (!*input) {
		fprintf(stderr, "hsbridge: cannot read the event: %s\n", strerror(errno));
		return EX_DATAERR;
	}
	memset(&in, 0, sizeof(in));
	in.body = *input;
	in.len = len;
	in.max_body = cfg->max_body_bytes;
	in.type_prop = type;
	in.routing_key = type;
	in.timestamp = now;
	in.now = now;
	switch (ev_prepare(&in, ev)) {
	case EV_OK:
		break;
	case EV_TOO_LARGE:
	case EV_INVALID:
		fprintf(stderr, "hsbridge: invalid event: %s\n", ev->reason);
		return EX_DATAERR;
	}
	if (strcmp(ev->type, type) != 0) {
		fprintf(stderr, "hsbridge: invalid event: its type \"%s\" differs from %s\n",
			ev->type, type);
		return EX_DATAERR;
	}
	return EX_OK;
}

/* The properties of DESIGN section 2, as a service sets them. */
static void event_properties(amqp_basic_properties_t *p, const struct ev_event *ev,
			     const char *type, long long now)
{
	memset(p, 0, sizeof(*p));
	p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		    AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG;
	p->content_type = amqp_cstring_bytes("application/json");
	p->delivery_mode = AMQP_DELIVERY_PERSISTENT;
	p->message_id = amqp_cstring_bytes(ev->id);
	p->timestamp = (uint64_t)now;
	p->type = amqp_cstring_bytes(type);
}

static int cmd_publish(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg *cfg = *cfgp;
	const char *type = a->operand[0];
	struct ev_event ev;
	amqp_basic_properties_t p;
	struct brk *b = NULL;
	char *input = NULL;
	char err[BRK_ERR_MAX];
	bool returned = false;
	long long now = (long long)time(NULL);
	int rc;

	memset(&ev, 0, sizeof(ev));
	rc = prepare_event(cfg, type, a->operand[1], now, &ev, &input);
	if (rc != EX_OK)
		goto out;
	rc = cli_connect_channel(cfg, "hsbridge publish", true, &b, NULL);
	if (rc != EX_OK)
		goto out;
	event_properties(&p, &ev, type, now);
	/* mandatory: a returned message tells that no subscription captured it. */
	if (brk_publish(b, 1, cfg->exchange, type, true, &p, ev.body, ev.len) != 0) {
		fprintf(stderr, "hsbridge: connection lost while publishing\n");
		rc = EX_UNAVAILABLE;
		goto out;
	}
	rc = cli_await_confirm(b, &returned, err, sizeof(err));
	if (rc != EX_OK) {
		fprintf(stderr, "hsbridge: %s\n", err);
		goto out;
	}
	if (returned)
		fprintf(stderr,
			"hsbridge: warning: no queue is bound to %s on %s, so no "
			"subscription captured this event\n",
			type, cfg->exchange);
	printf("%s\n", ev.id);
out:
	brk_close(b);
	ev_free(&ev);
	free(input);
	return rc;
}

const struct cfg_sub *cli_find_sub(const struct cfg *cfg, const char *name)
{
	const struct cfg_sub *s = cfg_find_sub(cfg, name);

	if (!s)
		fprintf(stderr, "hsbridge: no subscription \"%s\" in %s\n", name, cfg->path);
	return s;
}

static int cmd_run(struct cfg **cfgp, const struct cli_args *a)
{
	(void)a;
	for (size_t i = 0; i < (*cfgp)->n_warnings; i++)
		log_line(LOGL_WARN, "config", LOG_S("warning", (*cfgp)->warnings[i]));
	install_signals();
	return bridge_run(cfgp);
}

static const struct command commands[] = {
    {"run", "", 0, 0, NULL, false, true, false, false, cmd_run, "the bridge, in the foreground (default)"},
    {"check", "", 0, 0, NULL, false, true, false, false, cmd_check,
     "validate the config and print what the bridge would do"},
    {"topology", "", 0, 0, NULL, false, false, false, false, cmd_topology,
     "declare exchanges, queues and bindings, then exit"},
    {"status", "[--json]", 0, 0, NULL, true, false, false, false, cli_cmd_status,
     "per subscription: ready and parked messages, consumers;\n"
     "messages waiting in the retry queues; --json: the same\n"
     "figures as one JSON document"},
    {"publish", "TYPE [JSON]", 1, 2, NULL, false, false, false, false, cmd_publish,
     "publish an event as a service would (JSON from the\n"
     "argument or standard input)"},
    {"test-event", "SUB", 1, 1, NULL, false, true, false, false, cli_cmd_test_event,
     "POST a signed webhook.test event to SUB now; print the\n"
     "status, time and response body"},
    {"logs", "SUB [OPTIONS]", 1, 1, NULL, false, false, false, true, cli_cmd_logs,
     "SUB's attempts from the history stream <prefix>.attempts:\n"
     "--since 1h|7d|2024-02-27T10:00:00Z (default 1h), --failed,\n"
     "--event ID, --delivery UUID, --limit N (the last N),\n"
     "--follow (keep tailing), --json (the raw records)"},
    {"replay", "SUB [--limit N]", 1, 1, "--limit", false, true, false, false, cli_cmd_replay,
     "move parked messages back into SUB's queue, attempts\n"
     "reset"},
    {"keygen", "", 0, 0, NULL, false, false, true, false, cli_cmd_keygen,
     "print a new Ed25519 signing key (whsk_, for signing_key)\n"
     "and its public key (whpk_), one a line; reads no config"},
    {"pubkey", "SUB", 1, 1, NULL, false, true, false, false, cli_cmd_pubkey,
     "print the public key (whpk_) of SUB's signing_key, to hand\n"
     "to its integrator; then those of previous_signing_keys"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *to)
{
	char synopsis[64];

	fputs("usage: hsbridge [-c FILE] [COMMAND]\n\ncommands:\n", to);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *c = &commands[i];

		snprintf(synopsis, sizeof(synopsis), "%s%s%s", c->name, c->operands[0] ? " " : "",
			 c->operands);
		/* A synopsis too long for its column pushes the help along. */
		fprintf(to, "  %-*s  ", USAGE_COLUMN - 4, synopsis);
		for (const char *h = c->help; *h; h++) {
			fputc(*h, to);
			if (*h == '\n')
				fprintf(to, "%*s", USAGE_COLUMN, "");
		}
		fputc('\n', to);
	}
	fputs("\nThe config is FILE, else $HSBRIDGE_CONFIG, else etc/hsbridge.conf if it exists\n"
	      "(a source tree), else " INSTALLED_CONFIG ". status, topology, publish and\n"
	      "logs read no secret_file or secret_env. -V, --version: the version.\n",
	      to);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* The arguments after the command: min to max operands, then, for a
 * command with an option, optionally the option and a count >= 0; --json
 * anywhere for a command that takes it. Returns 0, or -1 with *why. */
static int parse_operands(const struct command *c, int argc, char **argv, struct cli_args *a,
			  const char **why)
{
	char *rest[CLI_MAX_OPERANDS + 2];
	int n = 0;

	memset(a, 0, sizeof(*a));
	a->limit = -1;
	for (int i = 0; i < argc; i++) {
		if (c->json && !a->json && strcmp(argv[i], "--json") == 0) {
			a->json = true;
			continue;
		}
		if (n == (int)(sizeof(rest) / sizeof(rest[0]))) {
			*why = "too many operands";
			return -1;
		}
		rest[n++] = argv[i];
	}
	argc = n;
	argv = rest;
	if (c->option && argc >= 2 && strcmp(argv[argc - 2], c->option) == 0) {
		const char *count = argv[argc - 1];
		char *end = NULL;

		n = argc - 2;
		errno = 0;
		a->limit = strtol(count, &end, 10);
		if (errno || end == count || *end || a->limit < 0) {
			*why = "the count after the option must be a whole number, 0 or more";
			return -1;
		}
	}
	if (n < c->min) {
		*why = "missing operand";
		return -1;
	}
	if (n > c->max) {
		*why = argv[n - 1][0] == '-' ? "unknown option" : "too many operands";
		return -1;
	}
	for (int i = 0; i < n; i++)
		a->operand[i] = argv[i];
	return 0;
}

/* -c FILE / --config FILE, -h / --help. */
static const struct option long_opts[] = {{"config", required_argument, NULL, 'c'},
					  {"help", no_argument, NULL, 'h'},
					  {"version", no_argument, NULL, 'V'},
					  {NULL, 0, NULL, 0}};

int cli_main(int argc, char **argv)
{
	const char *path = getenv("HSBRIDGE_CONFIG");
	const char *cmd = "run";
	const char *why = "";
	const struct command *c;
	struct cli_args args;
	struct cfg *cfg = NULL;
	char err[1024];
	int opt;
	int rc;

	if (!path || !*path)
		path = access(SOURCE_TREE_CONFIG, F_OK) == 0 ? SOURCE_TREE_CONFIG : INSTALLED_CONFIG;
	while ((opt = getopt_long(argc, argv, "+c:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			puts("hsbridge " HSB_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	c = find_command(cmd);
	if (!c) {
		fprintf(stderr, "hsbridge: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return EX_USAGE;
	}
	if (c->own_options) {
		memset(&args, 0, sizeof(args));
		args.limit = -1;
		args.argc = argc - optind;
		args.argv = argv + optind;
	} else if (parse_operands(c, argc - optind, argv + optind, &args, &why) != 0) {
		fprintf(stderr, "hsbridge: %s: %s (usage: %s%s%s)\n", c->name, why, c->name,
			c->operands[0] ? " " : "", c->operands);
		usage(stderr);
		return EX_USAGE;
	}
	if (c->no_config)
		return c->run(&cfg, &args);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "hsbridge: libcurl failed to initialise\n");
		return EX_SOFTWARE;
	}
	/* Built against 7.85, run with an older one: CURLOPT_PROTOCOLS_STR
	 * (http and https only, never file: or others) would be ignored. */
	if (curl_version_info(CURLVERSION_NOW)->version_num < 0x075500) {
		fprintf(stderr, "hsbridge: libcurl %s is too old: 7.85.0 or later is needed\n",
			curl_version_info(CURLVERSION_NOW)->version);
		curl_global_cleanup();
		return EX_UNAVAILABLE;
	}
	if (cfg_load_flags(path, c->secrets ? 0 : CFG_NO_SECRETS, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "hsbridge: %s\n", err);
		rc = EX_CONFIG;
		goto out;
	}
	log_set_level(cfg->log_level);
	rc = c->run(&cfg, &args);
out:
	cfg_free(cfg);
	curl_global_cleanup();
	return rc;
}
