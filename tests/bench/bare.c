/* hsb-bare: the broker's own limit for scripts/bench. A naive consumer of
 * one queue written straight on librabbitmq, doing nothing but take and ack,
 * so that the bridge's rate can be put beside it in the same run. Not part
 * of the product.
 *
 *   hsb-bare HOST PORT VHOST QUEUE COUNT PREFETCH
 *
 * One connection (guest/guest, heartbeats off), one channel,
 * basic.qos(PREFETCH) (the bridge's max_in_flight, so the broker keeps the
 * same number of messages in flight to either), basic.consume with manual
 * acks, then for each message: amqp_consume_message (which reads the whole
 * message, body included, into memory), one basic.ack with multiple=false
 * (one frame, one write(2), as a consumer that acks each message does), and
 * the message freed. After COUNT messages it prints one line:
 *     bare: COUNT END_US CPU_US
 * END_US is the wall clock (CLOCK_REALTIME, microseconds since the epoch)
 * when the last ack was written; CPU_US its own user+system time so far.
 * Then it keeps the connection open until its standard input ends, and
 * closes the channel and the connection: a quorum queue may drop acks that
 * arrive just before a channel closes and hand those messages back
 * (rabbitmq-server issue 10327; seen here with Debian's 3.10: closing at
 * once left 22 of 1,000 acked messages in the queue), so scripts/bench
 * waits until the queue holds nothing, acked or not, before it lets the
 * loop go. Exits 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

static int rpc_ok(amqp_connection_state_t c, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	fprintf(stderr, "bare: %s failed (reply type %d)\n", what, (int)r.reply_type);
	return 0;
}

static amqp_connection_state_t open_conn(const char *host, int port, const char *vhost)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);
	amqp_rpc_reply_t r;

	if (!s || amqp_socket_open(s, host, port) != AMQP_STATUS_OK) {
		fprintf(stderr, "bare: cannot connect to %s:%d\n", host, port);
		exit(1);
	}
	r = amqp_login(c, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		fprintf(stderr, "bare: login to vhost %s refused\n", vhost);
		exit(1);
	}
	amqp_channel_open(c, 1);
	if (!rpc_ok(c, "channel.open"))
		exit(1);
	return c;
}

static void close_conn(amqp_connection_state_t c)
{
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
}

static long long usec(const struct timeval *tv)
{
	return (long long)tv->tv_sec * 1000000 + tv->tv_usec;
}

static int drain(amqp_connection_state_t c, const char *queue, long count, int prefetch)
{
	struct timespec ts;
	struct rusage ru;
	long done = 0;

	amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
	if (!rpc_ok(c, "basic.qos"))
		return 1;
	amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
			   amqp_empty_table);
	if (!rpc_ok(c, "basic.consume"))
		return 1;
	while (done < count) {
		amqp_envelope_t env;
		amqp_rpc_reply_t r;

		amqp_maybe_release_buffers(c);
		r = amqp_consume_message(c, &env, NULL, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "bare: consume failed after %ld messages\n", done);
			return 1;
		}
		if (amqp_basic_ack(c, 1, env.delivery_tag, 0) != AMQP_STATUS_OK) {
			fprintf(stderr, "bare: ack failed after %ld messages\n", done);
			amqp_destroy_envelope(&env);
			return 1;
		}
		amqp_destroy_envelope(&env);
		done++;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	getrusage(RUSAGE_SELF, &ru);
	printf("bare: %ld %lld %lld\n", done, (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
	       usec(&ru.ru_utime) + usec(&ru.ru_stime));
	fflush(stdout);
	while (getchar() != EOF)
		;
	close_conn(c);
	return 0;
}

int main(int argc, char **argv)
{
	long count;
	int prefetch;

	if (argc != 7) {
		fprintf(stderr, "usage: hsb-bare HOST PORT VHOST QUEUE COUNT PREFETCH\n");
		return 64;
	}
	count = strtol(argv[5], NULL, 10);
	prefetch = atoi(argv[6]);
	if (count <= 0 || prefetch <= 0 || prefetch > 65535)
		return 64;
	return drain(open_conn(argv[1], atoi(argv[2]), argv[3]), argv[4], count, prefetch);
}
