/* broker: everything that speaks AMQP, through rabbitmq-c. */
#include "hsbridge/broker.h"
#include "hsbridge/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <amqp_tcp_socket.h>

#include "hsbridge/broker_tls.h"
#include "hsbridge/redact.h"
#include "hsbridge/url.h"
#include "hsbridge/wire.h"

#include "broker_int.h"

/* The largest frame the bridge reads. RabbitMQ splits bodies at the
 * negotiated frame_max but never a content header: a message whose
 * properties grew in the broker (a quorum queue adds x-delivery-count on
 * every redelivery, dead-lettering adds x-death) or that came in through
 * another protocol arrives in one larger frame. rabbitmq-c refuses any frame
 * over its frame_max as "invalid AMQP data", which dropped the connection
 * at every reconnect while such a message sat at the head of a queue. The
 * memory is taken only by a frame that big when it arrives. */
#define INBOUND_FRAME_MAX (32 * 1024 * 1024)
/* AMQP 0-9-1 section 4.2.3: no peer may negotiate less. */
#define BRK_FRAME_MIN 4096

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void bytes_str(amqp_bytes_t bytes, char *buf, size_t len)
{
	size_t n = bytes.len < len - 1 ? bytes.len : len - 1;

	memcpy(buf, bytes.bytes, n);
	buf[n] = '\0';
}

/* Turns an RPC reply into 0 or a code and a message. A channel closed by the
 * broker is acknowledged and opened again, so that the caller can go on; a
 * closed connection is marked broken. */
static int check_reply(struct brk *b, amqp_rpc_reply_t r, uint16_t ch, const char *what, char *err,
		       size_t errlen)
{
	char text[BRK_ERR_MAX];

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		set_err(err, errlen, "%s: no reply from the broker", what);
		b->broken = true;
		return BRK_ERR_CONNECTION;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		set_err(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
		b->broken = true;
		return BRK_ERR_CONNECTION;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *c = r.reply.decoded;
			amqp_channel_close_ok_t ok = {0};

			bytes_str(c->reply_text, text, sizeof(text));
			set_err(err, errlen, "%s: %s", what, text);
			if (amqp_send_method(b->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
			    AMQP_STATUS_OK) {
				b->broken = true;
				return BRK_ERR_CONNECTION;
			}
			/* A new channel: its delivery tags start over. */
			brk_acks_reset(b, ch);
			amqp_channel_open(b->conn, ch);
			if (amqp_get_rpc_reply(b->conn).reply_type != AMQP_RESPONSE_NORMAL) {
				b->broken = true;
				return BRK_ERR_CONNECTION;
			}
			return BRK_ERR_CHANNEL;
		}
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *c = r.reply.decoded;
			amqp_connection_close_ok_t ok = {0};

			bytes_str(c->reply_text, text, sizeof(text));
			set_err(err, errlen, "%s: connection closed by the broker: %s", what, text);
			amqp_send_method(b->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
			b->broken = true;
			return BRK_ERR_CONNECTION;
		}
		set_err(err, errlen, "%s: unexpected reply from the broker", what);
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return BRK_ERR_CONNECTION;
}

/* A TCP or TLS socket to the broker, opened. For TLS the peer and its host
 * name or IP address are verified against ca_file, else the system's bundle
 * (broker_tls.c), and a failed check is named. */
static int open_socket(struct brk *b, const struct amqp_connection_info *ci, const char *ca_file,
		       const char *where, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = BRK_CONNECT_TIMEOUT_MS / 1000,
			     .tv_usec = (BRK_CONNECT_TIMEOUT_MS % 1000) * 1000};
	amqp_socket_t *sock;
	int status;

	if (ci->ssl) {
		sock = brk_tls_socket(b, ci->host, ca_file, err, errlen);
		if (!sock)
			return BRK_ERR_CONNECTION;
	} else {
		sock = amqp_tcp_socket_new(b->conn);
		b->raw_writes = true;
	}
	if (!sock) {
		set_err(err, errlen, "cannot create a socket for %s", where);
		return BRK_ERR_CONNECTION;
	}
	status = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
	if (status != AMQP_STATUS_OK && ci->ssl &&
	    brk_tls_explain(status, b->tls_verify_err, ci->host, where, ca_file, err, errlen))
		return BRK_ERR_CONNECTION;
	if (status != AMQP_STATUS_OK) {
		/* rabbitmq-c keeps the reason to itself ("a socket error
		 * occurred"); say what it can be. */
		set_err(err, errlen, "cannot connect to the broker at %s: %s", where,
			status == AMQP_STATUS_SOCKET_ERROR ? "refused or unreachable"
			: status == AMQP_STATUS_TIMEOUT
			    ? (ci->ssl ? "no TCP connection and TLS handshake within the connect "
					 "timeout (does it speak TLS on that port?)"
				       : "no TCP connection within the connect timeout")
			    : amqp_error_string2(status));
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

static amqp_table_entry_t entry_bool(const char *key)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	e.value.value.boolean = 1;
	return e;
}

/* Why the login failed, in the broker's own words when it gave them
 * (ACCESS_REFUSED: user or password; NOT_ALLOWED: the vhost). */
static void login_error(amqp_rpc_reply_t r, const struct amqp_connection_info *ci,
			const char *where, char *err, size_t errlen)
{
	char text[BRK_ERR_MAX];
	char shown[BRK_ERR_MAX];
	const char *hint = "";

	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = r.reply.decoded;

		bytes_str(c->reply_text, text, sizeof(text));
		if (c->reply_code == AMQP_ACCESS_REFUSED)
			hint = " (check the user and password of broker.url)";
		else if (c->reply_code == AMQP_NOT_ALLOWED)
			hint = " (check the vhost of broker.url, and that the user may use it)";
		set_err(err, errlen, "the broker at %s refused the login: %s%s", where,
			redact_secret(text, ci->password, shown, sizeof(shown)), hint);
		return;
	}
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
		snprintf(text, sizeof(text), "no AMQP handshake within %d ms",
			 BRK_CONNECT_TIMEOUT_MS);
	else if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		snprintf(text, sizeof(text), "%s during the AMQP handshake",
			 amqp_error_string2(r.library_error));
	else
		snprintf(text, sizeof(text), "unexpected reply during the AMQP handshake");
	set_err(err, errlen, "could not log in to the broker at %s: %s", where, text);
}

/* Logs in, naming the connection and asking for the capabilities the
 * bridge relies on, within what is left of the connect budget. */
static int login(struct brk *b, const struct amqp_connection_info *ci, int heartbeat_s,
		 const char *name, const char *where, long long deadline_ms, char *err,
		 size_t errlen)
{
	/* Without these capabilities the broker neither tells a consumer that
	 * its queue was deleted nor that the connection is blocked by an alarm
	 * nor why it refused a login (it would just close the socket). */
	amqp_table_entry_t caps[] = {entry_bool("consumer_cancel_notify"),
				     entry_bool("connection.blocked"),
				     entry_bool("authentication_failure_close")};
	amqp_table_entry_t prop[2] = {brk_entry_str("connection_name", name)};
	amqp_table_t props = {.num_entries = 2, .entries = prop};
	long long left = deadline_ms - clk_mono_ms();
	amqp_rpc_reply_t r;

	if (left < 1)
		left = 1;
	prop[1].key = amqp_cstring_bytes("capabilities");
	prop[1].value.kind = AMQP_FIELD_KIND_TABLE;
	prop[1].value.value.table.num_entries = 3;
	prop[1].value.value.table.entries = caps;
	amqp_set_handshake_timeout(
	    b->conn, &(struct timeval){.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000});
	amqp_set_rpc_timeout(b->conn, &(struct timeval){.tv_sec = BRK_RPC_TIMEOUT_MS / 1000});
	r = amqp_login_with_properties(b->conn, ci->vhost, 0, 131072, heartbeat_s, &props,
				       AMQP_SASL_METHOD_PLAIN, ci->user, ci->password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		login_error(r, ci, where, err, errlen);
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

/* Keeps the negotiated frame_max for what the bridge sends (brk_publish
 * splits bodies itself) and raises rabbitmq-c's own limit, which also bounds
 * what it reads, to INBOUND_FRAME_MAX. */
static int accept_large_frames(struct brk *b, char *err, size_t errlen)
{
	b->frame_max = amqp_get_frame_max(b->conn);
	/* amqp_tune_connection aborts the process unless no frame is half read;
	 * right after the login none is. */
	if (b->frame_max < BRK_FRAME_MIN || !amqp_release_buffers_ok(b->conn) ||
	    amqp_tune_connection(b->conn, amqp_get_channel_max(b->conn), INBOUND_FRAME_MAX,
				 amqp_get_heartbeat(b->conn)) != AMQP_STATUS_OK) {
		set_err(err, errlen, "cannot set up the connection's frame buffers");
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

int brk_connect(const char *url, int heartbeat_s, const char *ca_file, const char *name,
		struct brk **out, char *err, size_t errlen)
{
	struct url_amqp u;
	struct brk *b = NULL;
	char where[300];
	int rc = BRK_ERR_CONNECTION;
	long long start_ms = clk_mono_ms();

	*out = NULL;
	if (url_amqp_parse(url, &u) != 0) {
		set_err(err, errlen, "broker.url is not a valid amqp:// or amqps:// URL");
		return BRK_ERR_CONNECTION;
	}
	snprintf(where, sizeof(where), "%s:%d", u.ci.host, u.ci.port);
	b = calloc(1, sizeof(*b));
	if (b)
		b->conn = amqp_new_connection();
	if (!b || !b->conn)
		set_err(err, errlen, "out of memory");
	else if (open_socket(b, &u.ci, ca_file, where, err, errlen) == 0 &&
		 login(b, &u.ci, heartbeat_s, name, where, start_ms + BRK_CONNECT_TIMEOUT_MS, err,
		       errlen) == 0 &&
		 accept_large_frames(b, err, errlen) == 0)
		rc = 0;
	if (rc == 0) {
		*out = b;
	} else if (b) {
		if (b->conn)
			amqp_destroy_connection(b->conn);
		free(b);
	}
	url_amqp_clear(&u);
	return rc;
}

/* Sends connection.close and waits up to BRK_CLOSE_WAIT_MS for close-ok,
 * skipping whatever else arrives: a broker that does not answer (an alarm,
 * a partition) cannot hold the caller longer than that. */
static void close_bounded(struct brk *b)
{
	amqp_connection_close_t req = {.reply_code = AMQP_REPLY_SUCCESS,
				       .reply_text = amqp_cstring_bytes("bye")};
	long long deadline = clk_mono_ms() + BRK_CLOSE_WAIT_MS;
	amqp_frame_t frame;

	if (amqp_send_method(b->conn, 0, AMQP_CONNECTION_CLOSE_METHOD, &req) != AMQP_STATUS_OK)
		return;
	for (;;) {
		long long left = deadline - clk_mono_ms();
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};

		if (left <= 0 || amqp_simple_wait_frame_noblock(b->conn, &frame, &tv) !=
				     AMQP_STATUS_OK)
			return;
		if (frame.frame_type == AMQP_FRAME_METHOD && frame.channel == 0 &&
		    (frame.payload.method.id == AMQP_CONNECTION_CLOSE_OK_METHOD ||
		     frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD))
			return;
		amqp_maybe_release_buffers_on_channel(b->conn, frame.channel);
	}
}

void brk_close(struct brk *b)
{
	if (!b)
		return;
	/* Decided deliveries are acked before the connection goes: else the
	 * broker would deliver them again. */
	if (!b->broken && brk_flush_acks(b) == 0)
		close_bounded(b);
	amqp_destroy_connection(b->conn);
	brk_acks_free(b);
	free(b->out);
	free(b);
}

long brk_backoff_ms(unsigned failures, uint32_t rnd)
{
	long ceiling = BRK_BACKOFF_MIN_MS;

	for (unsigned i = 0; i < failures && ceiling < BRK_BACKOFF_MAX_MS; i++)
		ceiling *= 2;
	if (ceiling > BRK_BACKOFF_MAX_MS)
		ceiling = BRK_BACKOFF_MAX_MS;
	/* Half fixed, half random: never sooner than half the ceiling, and
	 * bridges that lost the same broker spread out instead of knocking
	 * together. */
	return ceiling / 2 + (long)(rnd % (uint32_t)(ceiling / 2 + 1));
}

int brk_fd(const struct brk *b)
{
	return amqp_get_sockfd(b->conn);
}

bool brk_buffered(const struct brk *b)
{
	return amqp_frames_enqueued(b->conn) || amqp_data_in_buffer(b->conn);
}

int brk_channel_open(struct brk *b, uint16_t ch, char *err, size_t errlen)
{
	brk_acks_reset(b, ch);
	amqp_channel_open(b->conn, ch);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, "channel.open", err, errlen);
}

/* A consumer's acks go out before anything changes it: RabbitMQ (3.10's
 * quorum queues) crashes the channel, and so drops the connection, when a
 * consumer is re-added under the same tag while an ack of the old one is
 * still due. */
static int flush_before(struct brk *b, uint16_t ch, const char *what, char *err, size_t errlen)
{
	if (brk_flush_acks_on(b, ch) == 0)
		return 0;
	if (err)
		set_err(err, errlen, "connection lost while acking before %s", what);
	return BRK_ERR_CONNECTION;
}

int brk_qos(struct brk *b, uint16_t ch, uint16_t prefetch, char *err, size_t errlen)
{
	if (flush_before(b, ch, "basic.qos", err, errlen) != 0)
		return BRK_ERR_CONNECTION;
	amqp_basic_qos(b->conn, ch, 0, prefetch, 0);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, "basic.qos", err, errlen);
}

int brk_confirm_select(struct brk *b, uint16_t ch, char *err, size_t errlen)
{
	amqp_confirm_select(b->conn, ch);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, "confirm.select", err, errlen);
}

int brk_consume(struct brk *b, uint16_t ch, const char *queue, const char *tag, char *err,
		size_t errlen)
{
	return brk_consume_args(b, ch, queue, tag, NULL, 0, err, errlen);
}

int brk_consume_args(struct brk *b, uint16_t ch, const char *queue, const char *tag,
		     amqp_table_entry_t *args, int n_args, char *err, size_t errlen)
{
	amqp_table_t table = {.num_entries = n_args, .entries = args};
	char what[BRK_NAME_MAX + 32];

	snprintf(what, sizeof(what), "basic.consume on %s", queue);
	if (flush_before(b, ch, what, err, errlen) != 0)
		return BRK_ERR_CONNECTION;
	amqp_basic_consume(b->conn, ch, amqp_cstring_bytes(queue), amqp_cstring_bytes(tag), 0, 0, 0,
			   n_args ? table : amqp_empty_table);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, what, err, errlen);
}

void brk_in_loop(struct brk *b)
{
	amqp_set_rpc_timeout(b->conn, &(struct timeval){.tv_sec = BRK_LOOP_WAIT_MS / 1000,
							 .tv_usec = (BRK_LOOP_WAIT_MS % 1000) * 1000});
}

int brk_cancel(struct brk *b, uint16_t ch, const char *tag)
{
	amqp_basic_cancel_t req = {.consumer_tag = amqp_cstring_bytes(tag)};

	/* cancel-ok arrives among the other frames and is skipped there:
	 * waiting for it would stall the loop on a slow or silent broker. */
	if (flush_before(b, ch, "basic.cancel", NULL, 0) != 0)
		return BRK_ERR_CONNECTION;
	if (amqp_send_method(b->conn, ch, AMQP_BASIC_CANCEL_METHOD, &req) != AMQP_STATUS_OK) {
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

size_t brk_frame_max(const struct brk *b)
{
	return (size_t)b->frame_max;
}

/* Body frames of at most the negotiated frame_max (rabbitmq-c's own
 * amqp_basic_publish would use INBOUND_FRAME_MAX). */
static int send_body(struct brk *b, uint16_t ch, const void *body, size_t len)
{
	size_t chunk = (size_t)b->frame_max - WIRE_FRAME_OVERHEAD;
	amqp_frame_t f;

	for (size_t off = 0; off < len; off += chunk) {
		f.frame_type = AMQP_FRAME_BODY;
		f.channel = ch;
		f.payload.body_fragment.bytes = (char *)body + off;
		f.payload.body_fragment.len = len - off < chunk ? len - off : chunk;
		if (amqp_send_frame(b->conn, &f) != AMQP_STATUS_OK)
			return -1;
	}
	return 0;
}

int brk_publish(struct brk *b, uint16_t ch, const char *exchange, const char *routing_key,
		bool mandatory, const amqp_basic_properties_t *props, const void *body, size_t len)
{
	amqp_basic_publish_t m = {
	    .exchange = amqp_cstring_bytes(exchange),
	    .routing_key = amqp_cstring_bytes(routing_key),
	    .mandatory = mandatory,
	};
	static const amqp_basic_properties_t none = {0};
	amqp_frame_t f;

	if (!props)
		props = &none;
	/* Checked before anything is sent: a header frame the broker would
	 * refuse closes the connection, and a publish cut short after its
	 * method frame leaves the connection out of step. */
	if (wire_header_frame_size(props) > (size_t)b->frame_max)
		return BRK_ERR_TOO_LARGE;
	if (b->batching) {
		int rc = brk_batch_add(b, ch, &m, props, body, len);

		if (rc <= 0)
			return rc;
		/* Not encodable here (too large for the batch): sent alone,
		 * after what the batch holds, keeping the order. */
		if (brk_batch_flush(b) != 0)
			return BRK_ERR_CONNECTION;
	}
	f.frame_type = AMQP_FRAME_HEADER;
	f.channel = ch;
	f.payload.properties.class_id = AMQP_BASIC_CLASS;
	f.payload.properties.body_size = len;
	f.payload.properties.decoded = (void *)props;
	if (amqp_send_method(b->conn, ch, AMQP_BASIC_PUBLISH_METHOD, &m) != AMQP_STATUS_OK ||
	    amqp_send_frame(b->conn, &f) != AMQP_STATUS_OK || send_body(b, ch, body, len) != 0) {
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

void brk_event_clear(struct brk_event *ev)
{
	if (ev->kind == BRK_DELIVERY || ev->kind == BRK_RETURN)
		amqp_destroy_message(&ev->message);
	free(ev->routing_key);
	memset(ev, 0, sizeof(*ev));
}

/* Content frames follow their method at once, so reading them blocks only
 * for as long as the broker takes to write them. */
static int read_content(struct brk *b, struct brk_event *ev, char *err, size_t errlen)
{
	if (brk_read_content(b->conn, ev->channel, &ev->message, &ev->dropped, err, errlen) != 0) {
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	return 0;
}

/* A publisher confirm: ack or nack of one tag, or of all up to it. */
static void set_confirm(struct brk_event *ev, bool ack, uint64_t tag, amqp_boolean_t multiple)
{
	ev->kind = BRK_CONFIRM;
	ev->ack = ack;
	ev->delivery_tag = tag;
	ev->multiple = multiple != 0;
}

static int handle_frame(struct brk *b, amqp_frame_t *frame, struct brk_event *ev, char *err,
			size_t errlen)
{
	char text[BRK_ERR_MAX];

	ev->kind = BRK_OTHER;
	ev->channel = frame->channel;
	if (frame->frame_type != AMQP_FRAME_METHOD)
		return 0;
	switch (frame->payload.method.id) {
	case AMQP_BASIC_DELIVER_METHOD: {
		amqp_basic_deliver_t *d = frame->payload.method.decoded;

		ev->delivery_tag = d->delivery_tag;
		ev->redelivered = d->redelivered;
		ev->routing_key = strndup(d->routing_key.bytes, d->routing_key.len);
		if (!ev->routing_key || brk_acks_received(b, frame->channel, d->delivery_tag) != 0)
			return BRK_ERR_CONNECTION;
		if (read_content(b, ev, err, errlen) != 0)
			return BRK_ERR_CONNECTION;
		ev->kind = BRK_DELIVERY;
		return 0;
	}
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *a = frame->payload.method.decoded;

		set_confirm(ev, true, a->delivery_tag, a->multiple);
		return 0;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *n = frame->payload.method.decoded;

		set_confirm(ev, false, n->delivery_tag, n->multiple);
		return 0;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		amqp_basic_return_t *r = frame->payload.method.decoded;

		bytes_str(r->reply_text, ev->text, sizeof(ev->text));
		if (read_content(b, ev, err, errlen) != 0)
			return BRK_ERR_CONNECTION;
		ev->kind = BRK_RETURN;
		return 0;
	}
	case AMQP_BASIC_CANCEL_METHOD:
		ev->kind = BRK_CANCEL;
		return 0;
	case AMQP_CONNECTION_BLOCKED_METHOD: {
		amqp_connection_blocked_t *bl = frame->payload.method.decoded;

		bytes_str(bl->reason, ev->text, sizeof(ev->text));
		ev->kind = BRK_BLOCKED;
		return 0;
	}
	case AMQP_CONNECTION_UNBLOCKED_METHOD:
		ev->kind = BRK_UNBLOCKED;
		return 0;
	case AMQP_CHANNEL_CLOSE_METHOD: {
		amqp_channel_close_t *c = frame->payload.method.decoded;
		amqp_channel_close_ok_t ok = {0};

		bytes_str(c->reply_text, text, sizeof(text));
		set_err(err, errlen, "the broker closed a channel: %s", text);
		amqp_send_method(b->conn, frame->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
		/* Its unacked deliveries went back to their queues. */
		brk_acks_reset(b, frame->channel);
		/* Our channels carry unacked deliveries and confirms: start over. */
		return BRK_ERR_CONNECTION;
	}
	case AMQP_CONNECTION_CLOSE_METHOD: {
		amqp_connection_close_t *c = frame->payload.method.decoded;
		amqp_connection_close_ok_t ok = {0};

		bytes_str(c->reply_text, text, sizeof(text));
		set_err(err, errlen, "the broker closed the connection: %s", text);
		amqp_send_method(b->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	default:
		return 0;
	}
}

int brk_wait(struct brk *b, struct brk_event *ev, int timeout_ms, char *err, size_t errlen)
{
	amqp_frame_t frame;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int r;
	int rc;

	memset(ev, 0, sizeof(*ev));
	r = amqp_simple_wait_frame_noblock(b->conn, &frame, &tv);
	if (r == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r != AMQP_STATUS_OK) {
		set_err(err, errlen, "connection lost: %s", amqp_error_string2(r));
		b->broken = true;
		return BRK_ERR_CONNECTION;
	}
	rc = handle_frame(b, &frame, ev, err, errlen);
	if (rc != 0)
		brk_event_clear(ev);
	/* Only this frame's channel: amqp_maybe_release_buffers walks every
	 * channel and, for each, every frame read ahead, for each frame: with
	 * a channel per subscription that cost grew with subscriptions x
	 * backlog (256 subscriptions stalled the bridge). A frame read ahead
	 * for another channel is released when that one is handled. */
	amqp_maybe_release_buffers_on_channel(b->conn, frame.channel);
	return rc;
}

int brk_next(struct brk *b, struct brk_event *ev, char *err, size_t errlen)
{
	return brk_wait(b, ev, 0, err, errlen);
}

int brk_get(struct brk *b, uint16_t ch, const char *queue, struct brk_event *ev, char *err,
	    size_t errlen)
{
	amqp_rpc_reply_t r;
	int rc;

	memset(ev, 0, sizeof(*ev));
	r = amqp_basic_get(b->conn, ch, amqp_cstring_bytes(queue), 0);
	rc = check_reply(b, r, ch, "basic.get", err, errlen);
	if (rc != 0)
		return rc;
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	if (r.reply.id == AMQP_BASIC_GET_OK_METHOD) {
		amqp_basic_get_ok_t *g = r.reply.decoded;

		ev->channel = ch;
		ev->delivery_tag = g->delivery_tag;
		ev->redelivered = g->redelivered;
		ev->routing_key = strndup(g->routing_key.bytes, g->routing_key.len);
		if (!ev->routing_key || brk_acks_received(b, ch, g->delivery_tag) != 0) {
			set_err(err, errlen, "out of memory");
			brk_event_clear(ev);
			return BRK_ERR_CONNECTION;
		}
		if (read_content(b, ev, err, errlen) != 0) {
			brk_event_clear(ev);
			return BRK_ERR_CONNECTION;
		}
		ev->kind = BRK_DELIVERY;
	}
	return 0;
}

int brk_queue_counts(struct brk *b, uint16_t ch, const char *queue, uint32_t *messages,
		     uint32_t *consumers, char *err, size_t errlen)
{
	amqp_queue_declare_ok_t *ok;
	int rc;

	ok = amqp_queue_declare(b->conn, ch, amqp_cstring_bytes(queue), 1, 0, 0, 0,
				amqp_empty_table);
	rc = check_reply(b, amqp_get_rpc_reply(b->conn), ch, queue, err, errlen);
	if (rc == 0 && ok) {
		*messages = ok->message_count;
		*consumers = ok->consumer_count;
	}
	return rc;
}

amqp_table_entry_t brk_entry_str(const char *key, const char *value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(value);
	return e;
}

amqp_table_entry_t brk_entry_i64(const char *key, int64_t value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = value;
	return e;
}

int brk_declare_exchange(struct brk *b, uint16_t ch, const char *name, const char *type, char *err,
			 size_t errlen)
{
	char what[BRK_NAME_MAX + 32];

	snprintf(what, sizeof(what), "declaring exchange %s", name);
	amqp_exchange_declare(b->conn, ch, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, 1,
			      0, 0, amqp_empty_table);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, what, err, errlen);
}

int brk_declare_queue(struct brk *b, uint16_t ch, const char *name, amqp_table_entry_t *args,
		      int n_args, char *err, size_t errlen)
{
	amqp_table_t table = {.num_entries = n_args, .entries = args};
	char why[BRK_ERR_MAX];
	int rc;

	amqp_queue_declare(b->conn, ch, amqp_cstring_bytes(name), 0, 1, 0, 0, table);
	rc = check_reply(b, amqp_get_rpc_reply(b->conn), ch, "queue.declare", why, sizeof(why));
	if (rc == BRK_ERR_CHANNEL) {
		/* The broker's text names the argument ("inequivalent arg
		 * 'x-queue-type' ... received ... but current is ..."). */
		snprintf(err, errlen,
			 "queue %s already exists with other arguments than hsbridge declares (%s)",
			 name, why);
	} else if (rc != 0) {
		snprintf(err, errlen, "declaring queue %s: %s", name, why);
	}
	return rc;
}

int brk_bind(struct brk *b, uint16_t ch, const char *queue, const char *exchange, const char *key,
	     bool bind, char *err, size_t errlen)
{
	char what[2 * BRK_NAME_MAX + 64];

	snprintf(what, sizeof(what), "%s %s to %s with %s", bind ? "binding" : "unbinding", queue,
		 exchange, key);
	if (bind)
		amqp_queue_bind(b->conn, ch, amqp_cstring_bytes(queue),
				amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
				amqp_empty_table);
	else
		amqp_queue_unbind(b->conn, ch, amqp_cstring_bytes(queue),
				  amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
				  amqp_empty_table);
	return check_reply(b, amqp_get_rpc_reply(b->conn), ch, what, err, errlen);
}
