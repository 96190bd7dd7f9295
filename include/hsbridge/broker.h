/* broker: the AMQP connection (rabbitmq-c): declarations, publishing,
 * acks and a non-blocking reader of what the broker sends. Knows nothing of
 * the config; the topology module says what to declare. */
#ifndef HSBRIDGE_BROKER_H
#define HSBRIDGE_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

#define BRK_NAME_MAX 256
#define BRK_ERR_MAX 1024
/* TCP connect, TLS and the AMQP handshake together take at most this. */
#define BRK_CONNECT_TIMEOUT_MS 2000
/* Synchronous calls (declare, bind, consume, qos) give up after this and
 * mark the connection broken, while a connection is being set up
 * (declaring a quorum queue can take a while on a busy node)... */
#define BRK_RPC_TIMEOUT_MS 5000
/* ... and after this once brk_in_loop said it serves the loop, which must
 * not stall (issue 6: "bounded to a second or two"): a re-declare, a
 * breaker's qos and consume. The rest of a message whose first frame came
 * and a batch of writes (brk_batch_*) are bounded by it too. */
#define BRK_LOOP_WAIT_MS 2000
/* brk_close waits this long for the broker's close-ok. */
#define BRK_CLOSE_WAIT_MS 400
/* Reconnect backoff: the ceiling doubles from MIN to MAX (brk_backoff_ms). */
#define BRK_BACKOFF_MIN_MS 500
#define BRK_BACKOFF_MAX_MS 5000

/* Status codes, besides 0 for success. */
enum {
	BRK_ERR_CONNECTION = -1, /* the connection is unusable: reconnect */
	BRK_ERR_CHANNEL = -2,	 /* the broker refused (channel closed and reopened) */
	BRK_ERR_TOO_LARGE = -3,	 /* brk_publish: the properties do not fit in one frame */
};

struct brk;

/* What reading a message left out of its properties (brk_event.dropped):
 * rabbitmq-c cannot copy a header table entry whose name is empty, and the
 * copy descends at most BRK_PROPS_MAX_DEPTH tables or arrays deep (the
 * headers being the first). */
enum {
	BRK_DROPPED_EMPTY_NAME = 1,
	BRK_DROPPED_TOO_DEEP = 2,
};
#define BRK_PROPS_MAX_DEPTH 64

enum brk_event_kind {
	BRK_NONE,      /* nothing buffered or readable right now */
	BRK_DELIVERY,  /* basic.deliver with its message */
	BRK_CONFIRM,   /* publisher confirm: ack or nack of delivery_tag */
	BRK_RETURN,    /* a mandatory publish came back unroutable */
	BRK_CANCEL,    /* the broker cancelled a consumer (its queue was deleted) */
	BRK_BLOCKED,   /* a resource alarm: the broker stops reading this connection */
	BRK_UNBLOCKED, /* the alarm is over */
	BRK_OTHER,     /* anything else, already handled */
};

struct brk_event {
	enum brk_event_kind kind;
	uint16_t channel;
	uint64_t delivery_tag;
	bool multiple;		/* BRK_CONFIRM */
	bool ack;		/* BRK_CONFIRM: true ack, false nack */
	bool redelivered;	/* BRK_DELIVERY */
	char *routing_key;	/* BRK_DELIVERY; malloc'd, freed by brk_event_clear */
	amqp_message_t message; /* BRK_DELIVERY, BRK_RETURN; owned, freed by brk_event_clear */
	unsigned dropped;	/* BRK_DELIVERY, BRK_RETURN: BRK_DROPPED_* bits, 0: none */
	char text[BRK_ERR_MAX]; /* BRK_RETURN: the reply text; BRK_BLOCKED: the reason */
};

/* Connects and logs in within BRK_CONNECT_TIMEOUT_MS. url is an amqp:// or
 * amqps:// URL whose password never appears in err; for amqps://, peers are
 * verified against ca_file (NULL: the system's bundle). Returns 0 and *out,
 * or a negative code and err, which names the broker's own reason for a
 * refused login (ACCESS_REFUSED, NOT_ALLOWED for an unknown vhost). */
int brk_connect(const char *url, int heartbeat_s, const char *ca_file, const char *name,
		struct brk **out, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Closes politely (when the connection still works: the recorded acks go
 * out first), waiting at most BRK_CLOSE_WAIT_MS for the broker's answer,
 * and frees. NULL is fine. */
void brk_close(struct brk *b);
/* From now on b's synchronous calls give up after BRK_LOOP_WAIT_MS. */
void brk_in_loop(struct brk *b);

/* How long to wait before reconnect attempt failures+1: a ceiling that
 * doubles from BRK_BACKOFF_MIN_MS to BRK_BACKOFF_MAX_MS, and a delay drawn
 * between half the ceiling and the ceiling with rnd (any random number).
 * Pure. */
long brk_backoff_ms(unsigned failures, uint32_t rnd);

int brk_fd(const struct brk *b);
/* Frames already read from the socket but not yet returned by brk_next: the
 * socket will not signal them, so do not sleep while this is true. */
bool brk_buffered(const struct brk *b);

int brk_channel_open(struct brk *b, uint16_t ch, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int brk_qos(struct brk *b, uint16_t ch, uint16_t prefetch, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int brk_confirm_select(struct brk *b, uint16_t ch, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int brk_consume(struct brk *b, uint16_t ch, const char *queue, const char *tag, char *err,
		size_t errlen) __attribute__((warn_unused_result));
/* brk_consume with consumer arguments (a stream's x-stream-offset). */
int brk_consume_args(struct brk *b, uint16_t ch, const char *queue, const char *tag,
		     amqp_table_entry_t *args, int n_args, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Sends basic.cancel without waiting for cancel-ok (brk_next skips it):
 * deliveries already on their way may still arrive. 0 or
 * BRK_ERR_CONNECTION. */
int brk_cancel(struct brk *b, uint16_t ch, const char *tag) __attribute__((warn_unused_result));

/* The frame_max negotiated with the broker: what one frame we send may
 * hold (properties must fit in one, with WIRE_FRAME_OVERHEAD). */
size_t brk_frame_max(const struct brk *b);

/* Sends basic.publish. The nth publish on a confirm-mode channel is
 * confirmed as delivery tag n. Returns 0, BRK_ERR_TOO_LARGE (nothing sent,
 * the connection is fine) or BRK_ERR_CONNECTION. */
int brk_publish(struct brk *b, uint16_t ch, const char *exchange, const char *routing_key,
		bool mandatory, const amqp_basic_properties_t *props, const void *body, size_t len)
    __attribute__((warn_unused_result));
/* From brk_batch_begin to brk_batch_end, publishes on a plain TCP
 * connection are encoded into one buffer (up to 256 KiB, larger ones go
 * alone, in order) and written together by brk_batch_flush (the batch goes
 * on) or brk_batch_end: one send for many history records instead of three
 * per record. Nothing else may be sent on the connection in between. Over
 * TLS each publish is sent at once, as without a batch. Both return 0 or
 * BRK_ERR_CONNECTION (the connection is then broken). */
void brk_batch_begin(struct brk *b);
int brk_batch_flush(struct brk *b) __attribute__((warn_unused_result));
int brk_batch_end(struct brk *b) __attribute__((warn_unused_result));
/* Ends a batch without sending what it holds (the connection is being
 * given up). */
void brk_batch_drop(struct brk *b);
/* Records that the delivery tag received on ch may be acked; nothing is
 * sent until brk_flush_acks (or brk_close), which acks it together with the
 * others decided by then (acks.h: one basic.ack with multiple set for the
 * run of decided tags at the front, never covering an undecided one).
 * Returns 0, or BRK_ERR_CHANNEL when ch does not hold tag undecided (the
 * channel started over since, or it was acked already): nothing recorded. */
int brk_ack(struct brk *b, uint16_t ch, uint64_t tag) __attribute__((warn_unused_result));
/* Sends the acks recorded since the last flush, on every channel. Returns 0
 * or BRK_ERR_CONNECTION. Call it before waiting, so that no ack waits for
 * the next event. */
int brk_flush_acks(struct brk *b) __attribute__((warn_unused_result));

/* Reads the next event without waiting. Returns 0 (ev->kind may be
 * BRK_NONE), or BRK_ERR_CONNECTION with the reason in err. Clear ev with
 * brk_event_clear before reusing it. */
int brk_next(struct brk *b, struct brk_event *ev, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Like brk_next, but waits up to timeout_ms for an event. */
int brk_wait(struct brk *b, struct brk_event *ev, int timeout_ms, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void brk_event_clear(struct brk_event *ev);

/* basic.get of one message: 0 with ev->kind BRK_DELIVERY, or 0 with BRK_NONE
 * when the queue is empty, or a negative code. */
int brk_get(struct brk *b, uint16_t ch, const char *queue, struct brk_event *ev, char *err,
	    size_t errlen) __attribute__((warn_unused_result));

/* A deep copy of src into pool, borrowing nothing from src (which may be
 * a decoded frame that dies at the next amqp_maybe_release_buffers): every
 * short string set in _flags, and the headers with their strings, tables
 * and arrays at any depth, less table entries whose name is empty and less
 * tables and arrays nested deeper than BRK_PROPS_MAX_DEPTH; BRK_DROPPED_*
 * bits for those are or'ed into *dropped. Returns 0, or -1 when out of
 * memory (what was taken stays in pool). Pure. */
int brk_props_copy(const amqp_basic_properties_t *src, amqp_basic_properties_t *dst,
		   amqp_pool_t *pool, unsigned *dropped) __attribute__((warn_unused_result));
/* What dropped (BRK_DROPPED_* bits) means, for a log line; "" for none. */
const char *brk_dropped_text(unsigned dropped);

/* Passive queue.declare: 0 with the counts, BRK_ERR_CHANNEL when the queue
 * does not exist. */
int brk_queue_counts(struct brk *b, uint16_t ch, const char *queue, uint32_t *messages,
		     uint32_t *consumers, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* queue.bind (bind) or queue.unbind (!bind) of queue to exchange with key. */
int brk_bind(struct brk *b, uint16_t ch, const char *queue, const char *exchange, const char *key,
	     bool bind, char *err, size_t errlen) __attribute__((warn_unused_result));

/* A table entry (queue argument, message header) whose key and value are
 * borrowed: they must outlive the table's use. */
amqp_table_entry_t brk_entry_str(const char *key, const char *value);
amqp_table_entry_t brk_entry_i64(const char *key, int64_t value);

/* A durable exchange of type ("topic", "fanout"), idempotently. */
int brk_declare_exchange(struct brk *b, uint16_t ch, const char *name, const char *type, char *err,
			 size_t errlen) __attribute__((warn_unused_result));
/* A durable queue with args, idempotently. A queue that exists with other
 * arguments yields BRK_ERR_CHANNEL and an err naming the queue and the
 * argument (the way out depends on the queue: topology.c adds it). */
int brk_declare_queue(struct brk *b, uint16_t ch, const char *name, amqp_table_entry_t *args,
		      int n_args, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
