/* mgmt: the RabbitMQ management HTTP API, for what AMQP cannot tell: the
 * unacked count of a queue, and which queues exist at all (orphans). */
#ifndef HSBRIDGE_MGMT_H
#define HSBRIDGE_MGMT_H

#include <stddef.h>

#include "hsbridge/config.h"

struct mgmt_queue {
	char *name;
	long long ready;
	long long unacked;
	long long consumers;
	long long dlx; /* quorum queues: taken by at-least-once dead-lettering, not yet
			  confirmed by the target ("messages, 0 ready"); 0 if not said */
};

/* The API's base URL: broker.management_url, else http://<host>:15672
 * (https://<host>:15671 for amqps://) of broker_url, the URL of broker.url's
 * list that answered. Writes it into buf; it holds the credentials of
 * management_url, if any (redact_url before printing). */
void mgmt_base_url(const struct cfg *cfg, const char *broker_url, char *buf, size_t len);

/* Every queue of broker_url's vhost, with broker_url's user and password.
 * Returns 0 and an array the caller frees with mgmt_free_queues, or -1 and
 * err (no credentials in it). */
int mgmt_list_queues(const struct cfg *cfg, const char *broker_url, struct mgmt_queue **out,
		     size_t *n, char *err, size_t errlen) __attribute__((warn_unused_result));
void mgmt_free_queues(struct mgmt_queue *q, size_t n);

/* The entry called name, or NULL. */
const struct mgmt_queue *mgmt_find(const struct mgmt_queue *q, size_t n, const char *name);

#endif
