/* topology: what hsbridge declares, named from the config (DESIGN section 1). */
#include "hsbridge/topology.h"

#include <stdio.h>
#include <string.h>

#include "hsbridge/url.h"

void topo_sub_queue(const struct cfg *cfg, const char *sub, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s", cfg->prefix, sub);
}

void topo_parked_queue(const struct cfg *cfg, const char *sub, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s.parked", cfg->prefix, sub);
}

void topo_retry_name(const struct cfg *cfg, size_t delay_index, char *buf, size_t len)
{
	char label[32];

	cfg_format_duration(cfg->retry_delays_ms[delay_index], label, sizeof(label));
	snprintf(buf, len, "%s.retry.%s", cfg->prefix, label);
}

void topo_attempts_queue(const struct cfg *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%s.attempts", cfg->prefix);
}

#define STREAM_SEGMENT_DEFAULT 500000000LL

long long topo_attempts_segment_bytes(const struct cfg *cfg)
{
	long long seg = cfg->history.max_bytes / 4;

	return seg < STREAM_SEGMENT_DEFAULT ? seg : STREAM_SEGMENT_DEFAULT;
}

/* A queue of the topology; one that exists with other arguments gets the
 * way out added to brk_declare_queue's err. */
static int declare_queue(struct brk *b, uint16_t ch, const char *name, amqp_table_entry_t *args,
			 int n_args, char *err, size_t errlen)
{
	int rc = brk_declare_queue(b, ch, name, args, n_args, err, errlen);
	size_t at;

	if (rc == BRK_ERR_CHANNEL && (at = strlen(err)) < errlen)
		snprintf(err + at, errlen - at,
			 "; fix: set the difference with a policy, or delete the queue once it is "
			 "drained (rabbitmqctl delete_queue %s) and run hsbridge topology again",
			 name);
	return rc;
}

/* The history stream: every attempt, retained by age and size. */
static int declare_attempts(struct brk *b, uint16_t ch, const struct cfg *cfg, char *err,
			    size_t errlen)
{
	char name[BRK_NAME_MAX];
	char age[32];
	amqp_table_entry_t args[4];

	cfg_format_age(cfg->history.max_age_s, age, sizeof(age));
	args[0] = brk_entry_str("x-queue-type", "stream");
	args[1] = brk_entry_str("x-max-age", age);
	args[2] = brk_entry_i64("x-max-length-bytes", cfg->history.max_bytes);
	args[3] = brk_entry_i64("x-stream-max-segment-size-bytes", topo_attempts_segment_bytes(cfg));
	topo_attempts_queue(cfg, name, sizeof(name));
	return brk_declare_queue(b, ch, name, args, 4, err, errlen);
}

/* A fanout exchange and a quorum queue of the same name per delay: a copy
 * waits there for the delay, then dead-letters back by its routing key. */
static int declare_retry(struct brk *b, uint16_t ch, const struct cfg *cfg, size_t i, char *err,
			 size_t errlen)
{
	char name[BRK_NAME_MAX];
	amqp_table_entry_t args[] = {
	    brk_entry_str("x-queue-type", "quorum"),
	    brk_entry_i64("x-message-ttl", cfg->retry_delays_ms[i]),
	    brk_entry_str("x-dead-letter-exchange", ""),
	    brk_entry_str("x-dead-letter-strategy", "at-least-once"),
	    brk_entry_str("x-overflow", "reject-publish"),
	};
	int rc;

	topo_retry_name(cfg, i, name, sizeof(name));
	rc = brk_declare_exchange(b, ch, name, "fanout", err, errlen);
	if (rc == 0)
		rc = declare_queue(b, ch, name, args, 5, err, errlen);
	if (rc == 0)
		rc = brk_bind(b, ch, name, name, "", true, err, errlen);
	return rc;
}

/* The broker refused a subscription queue for an argument hsbridge 0.1
 * did not declare: say how to move the queue (README, "Upgrading from
 * 0.1") instead of the generic advice, which would not help here (a policy
 * cannot make declared arguments equal). err holds brk_declare_queue's
 * message, with the broker's text in it. */
/* rabbitmqctl's "-p VHOST " for a queue outside the default vhost: without
 * it, delete_queue acts on "/", where a queue of the same name may be in
 * use. The vhost is single-quoted for a shell. */
static void vhost_option(const struct cfg *cfg, char *buf, size_t len)
{
	struct url_amqp u;
	size_t at;

	buf[0] = '\0';
	if (url_amqp_parse(cfg->broker_urls[0], &u) != 0)
		return;
	if (u.ci.vhost && strcmp(u.ci.vhost, "/") != 0) {
		at = (size_t)snprintf(buf, len, "-p '");
		for (const char *c = u.ci.vhost; *c && at + 6 < len; c++)
			at += (size_t)snprintf(buf + at, len - at, *c == '\'' ? "'\\''" : "%c", *c);
		snprintf(buf + at, len - at, "' ");
	}
	url_amqp_clear(&u);
}

static void explain_migration(const struct cfg *cfg, const char *queue, char *err, size_t errlen)
{
	static const char *const added[] = {"'x-dead-letter-strategy'", "'x-overflow'"};
	const char *arg = NULL;
	char vhost[BRK_NAME_MAX + 16];

	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]) && !arg; i++)
		arg = strstr(err, added[i]) ? added[i] : NULL;
	if (!arg)
		return;
	vhost_option(cfg, vhost, sizeof(vhost));
	snprintf(
	    err, errlen,
	    "queue %s was declared by hsbridge 0.1 (inequivalent arg %s): this version "
	    "declares subscription queues with x-dead-letter-strategy at-least-once and "
	    "x-overflow reject-publish, so that a message dead-lettered at the delivery limit "
	    "is never dropped, and a queue's arguments cannot change; move it: stop publishing "
	    "its events, let hsbridge 0.1 drain it (Ready and Unacked 0), delete it "
	    "(rabbitmqctl delete_queue %s%s, or the UI), then start this bridge, which declares "
	    "it again (README: Upgrading from 0.1)",
	    queue, arg, vhost, queue);
}

/* A subscription's parked queue and its queue, which dead-letters into the
 * parked one at the delivery limit, at-least-once: a dead letter the
 * parked queue does not take (it is missing, or full) stays in the
 * subscription queue and is tried again, where at-most-once would drop it.
 * RabbitMQ applies at-least-once only with reject-publish (else it falls
 * back to at-most-once without a word); no length limit is declared, so
 * reject-publish refuses nothing unless a policy adds one. */
static int declare_sub_queues(struct brk *b, uint16_t ch, const struct cfg *cfg,
			      const struct cfg_sub *s, char *err, size_t errlen)
{
	char name[BRK_NAME_MAX];
	char parked[BRK_NAME_MAX];
	/* With a length limit, a full parked queue nacks new copies
	 * (reject-publish), so the bridge holds them and their originals stay
	 * unacked; the default drop-head would lose the oldest parked event. */
	amqp_table_entry_t parked_args[] = {
	    brk_entry_str("x-queue-type", "quorum"),
	    brk_entry_i64("x-max-length", s->parked_max_length),
	    brk_entry_str("x-overflow", "reject-publish"),
	};
	int rc;

	topo_sub_queue(cfg, s->name, name, sizeof(name));
	topo_parked_queue(cfg, s->name, parked, sizeof(parked));
	amqp_table_entry_t args[] = {
	    brk_entry_str("x-queue-type", "quorum"),
	    brk_entry_i64("x-delivery-limit", cfg->delivery_limit),
	    brk_entry_str("x-dead-letter-exchange", ""),
	    brk_entry_str("x-dead-letter-routing-key", parked),
	    brk_entry_str("x-dead-letter-strategy", "at-least-once"),
	    brk_entry_str("x-overflow", "reject-publish"),
	};
	rc = declare_queue(b, ch, parked, parked_args, s->parked_max_length > 0 ? 3 : 1, err, errlen);
	if (rc == 0) {
		rc = declare_queue(b, ch, name, args, 6, err, errlen);
		if (rc == BRK_ERR_CHANNEL)
			explain_migration(cfg, name, err, errlen);
	}
	return rc;
}

/* Binds an active subscription's patterns; unbinds an inactive one's: its
 * queue is kept, it stops capturing new events. */
static int bind_sub(struct brk *b, uint16_t ch, const struct cfg *cfg, const struct cfg_sub *s,
		    char *err, size_t errlen)
{
	char name[BRK_NAME_MAX];
	int rc = 0;

	topo_sub_queue(cfg, s->name, name, sizeof(name));
	for (size_t j = 0; rc == 0 && j < s->n_events; j++)
		rc = brk_bind(b, ch, name, cfg->exchange, s->events[j], s->active, err, errlen);
	return rc;
}

/* Every queue before any binding: a queue the broker refuses (declared
 * elsewhere with other arguments) fails the whole config before any of its
 * new queues starts capturing events that nothing would consume. */
int topo_declare(struct brk *b, uint16_t ch, const struct cfg *cfg, char *err, size_t errlen)
{
	int rc = brk_declare_exchange(b, ch, cfg->exchange, "topic", err, errlen);

	for (size_t i = 0; rc == 0 && i < cfg->n_delays; i++)
		rc = declare_retry(b, ch, cfg, i, err, errlen);
	for (size_t i = 0; rc == 0 && i < cfg->n_subs; i++)
		rc = declare_sub_queues(b, ch, cfg, &cfg->subs[i], err, errlen);
	for (size_t i = 0; rc == 0 && i < cfg->n_subs; i++)
		rc = bind_sub(b, ch, cfg, &cfg->subs[i], err, errlen);
	return rc;
}

int topo_declare_attempts(struct brk *b, uint16_t ch, const struct cfg *cfg, char *err,
			  size_t errlen)
{
	char name[BRK_NAME_MAX];
	char why[BRK_ERR_MAX];
	int rc;

	if (!cfg->history.enabled)
		return 0;
	rc = declare_attempts(b, ch, cfg, why, sizeof(why));
	if (rc != BRK_ERR_CHANNEL) {
		if (rc != 0)
			snprintf(err, errlen, "%s", why);
		return rc;
	}
	topo_attempts_queue(cfg, name, sizeof(name));
	snprintf(err, errlen,
		 "%s; records still go to the stream %s as it was declared, with its "
		 "retention; to change that retention, set a policy (README: Retention) and "
		 "keep history's settings in the config as they were, or delete the stream "
		 "(its records go with it) and run hsbridge topology",
		 why, name);
	return rc;
}
