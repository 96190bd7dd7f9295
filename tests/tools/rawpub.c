/* hsb-rawpub: publishes one message with exactly the bytes and headers a
 * test asks for, as a hostile or careless service could: headers near the
 * frame limit, bytes that are not UTF-8 in the type or message_id, forged
 * hsbridge-* bookkeeping of any integer kind. The management API cannot
 * (its JSON carries only UTF-8 strings, and it limits what it accepts), and
 * the suite's Python is stdlib only. Talks to librabbitmq directly so that
 * it does not depend on the bridge's own broker module. Not part of the
 * product.
 *
 *   hsb-rawpub HOST PORT VHOST EXCHANGE ROUTING_KEY BODY [OPTION...]
 *     -t TYPE        the type property
 *     -m ID          the message_id property
 *     -s KEY=VALUE   a string (longstr) header
 *     -i KEY=N       a signed 64-bit header (decimal, may be negative)
 *     -u KEY=N       an unsigned 64-bit header
 *     -b KEY=N       a signed 8-bit header
 *     -T KEY=IN=VAL  a table header KEY holding one string entry IN=VAL
 *     -A KEY=IN=VAL  an array header KEY holding one such table
 *     -P N           a header "pad" of N bytes
 *
 * Every string argument (body included) has \xNN escapes decoded, so a
 * test can pass any byte but NUL; write a backslash as \x5c. Exits 0 once
 * the broker confirmed the message, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#define MAX_HEADERS 32

/* The -P header's value, the one thing on the heap (LeakSanitizer). */
static char *pad_bytes;
/* What -T and -A headers hold: one inner entry each, and -A's array of one
 * table. */
static amqp_table_entry_t inner[MAX_HEADERS];
static amqp_field_value_t elems[MAX_HEADERS];

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes \xNN in place; returns the new length. */
static size_t unescape(char *s)
{
	size_t in = 0, out = 0;

	while (s[in]) {
		if (s[in] == '\\' && s[in + 1] == 'x' && hexval(s[in + 2]) >= 0 &&
		    hexval(s[in + 3]) >= 0) {
			s[out++] = (char)(hexval(s[in + 2]) * 16 + hexval(s[in + 3]));
			in += 4;
		} else {
			s[out++] = s[in++];
		}
	}
	s[out] = '\0';
	return out;
}

static amqp_bytes_t bytes_of(char *s)
{
	amqp_bytes_t b;

	b.len = unescape(s);
	b.bytes = s;
	return b;
}

/* -T/-A: e (its key set) holds a table with the one string entry IN=VAL
 * of arg, or (-A) an array of one such table. Returns 0 or -1. */
static int nested_of(char opt, char *arg, amqp_table_entry_t *e)
{
	static int used;
	char *eq = strchr(arg, '=');
	amqp_field_value_t table;

	if (!eq || used == MAX_HEADERS)
		return -1;
	*eq = '\0';
	inner[used].key = bytes_of(arg);
	inner[used].value.kind = AMQP_FIELD_KIND_UTF8;
	inner[used].value.value.bytes = bytes_of(eq + 1);
	table.kind = AMQP_FIELD_KIND_TABLE;
	table.value.table.num_entries = 1;
	table.value.table.entries = &inner[used];
	if (opt == 'T') {
		e->value = table;
	} else {
		elems[used] = table;
		e->value.kind = AMQP_FIELD_KIND_ARRAY;
		e->value.value.array.num_entries = 1;
		e->value.value.array.entries = &elems[used];
	}
	used++;
	return 0;
}

/* One -s/-i/-u/-b/-T/-A/-P option into e; returns 0 or -1. */
static int header_of(char opt, char *arg, amqp_table_entry_t *e)
{
	char *eq = strchr(arg, '=');

	if (opt == 'P') {
		long n = strtol(arg, NULL, 10);
		char *pad;

		if (n < 0 || pad_bytes || !(pad = malloc((size_t)n + 1)))
			return -1;
		pad_bytes = pad;
		memset(pad, 'p', (size_t)n);
		e->key = amqp_cstring_bytes("pad");
		e->value.kind = AMQP_FIELD_KIND_UTF8;
		e->value.value.bytes.bytes = pad;
		e->value.value.bytes.len = (size_t)n;
		return 0;
	}
	if (!eq)
		return -1;
	*eq = '\0';
	e->key = bytes_of(arg);
	switch (opt) {
	case 's':
		e->value.kind = AMQP_FIELD_KIND_UTF8;
		e->value.value.bytes = bytes_of(eq + 1);
		return 0;
	case 'i':
		e->value.kind = AMQP_FIELD_KIND_I64;
		e->value.value.i64 = strtoll(eq + 1, NULL, 10);
		return 0;
	case 'u':
		e->value.kind = AMQP_FIELD_KIND_U64;
		e->value.value.u64 = strtoull(eq + 1, NULL, 10);
		return 0;
	case 'b':
		e->value.kind = AMQP_FIELD_KIND_I8;
		e->value.value.i8 = (int8_t)strtol(eq + 1, NULL, 10);
		return 0;
	case 'T':
	case 'A':
		return nested_of(opt, eq + 1, e);
	default:
		return -1;
	}
}

static int confirmed(amqp_connection_state_t c)
{
	struct timeval tv = {.tv_sec = 10};
	amqp_frame_t f;

	for (;;) {
		if (amqp_simple_wait_frame_noblock(c, &f, &tv) != AMQP_STATUS_OK)
			return 0;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD)
			return 1;
		if (f.payload.method.id == AMQP_BASIC_NACK_METHOD ||
		    f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
		    f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
			return 0;
	}
}

int main(int argc, char **argv)
{
	amqp_table_entry_t headers[MAX_HEADERS];
	amqp_basic_properties_t p;
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *sock = amqp_tcp_socket_new(c);
	int n = 0;

	if (argc < 7 || (argc - 7) % 2 != 0) {
		fprintf(stderr, "usage: hsb-rawpub HOST PORT VHOST EXCHANGE ROUTING_KEY BODY "
				"[-t TYPE] [-m ID] [-s|-i|-u|-b KEY=VALUE] [-T|-A KEY=IN=VAL] "
				"[-P N]...\n");
		return 64;
	}
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	for (int i = 7; i + 1 < argc; i += 2) {
		char opt = argv[i][1];

		if (argv[i][0] != '-' || argv[i][2] != '\0')
			return 64;
		if (opt == 't') {
			p._flags |= AMQP_BASIC_TYPE_FLAG;
			p.type = bytes_of(argv[i + 1]);
		} else if (opt == 'm') {
			p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
			p.message_id = bytes_of(argv[i + 1]);
		} else if (n == MAX_HEADERS || header_of(opt, argv[i + 1], &headers[n++]) != 0) {
			return 64;
		}
	}
	if (n > 0) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers.num_entries = n;
		p.headers.entries = headers;
	}
	if (!sock || amqp_socket_open(sock, argv[1], atoi(argv[2])) != AMQP_STATUS_OK ||
	    amqp_login(c, argv[3], 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest")
		    .reply_type != AMQP_RESPONSE_NORMAL ||
	    !amqp_channel_open(c, 1) || !amqp_confirm_select(c, 1)) {
		fprintf(stderr, "hsb-rawpub: cannot connect, log in or open a channel\n");
		return 1;
	}
	if (amqp_basic_publish(c, 1, amqp_cstring_bytes(argv[4]), bytes_of(argv[5]), 0, 0, &p,
			       bytes_of(argv[6])) != AMQP_STATUS_OK ||
	    !confirmed(c)) {
		fprintf(stderr, "hsb-rawpub: the message was not confirmed\n");
		return 1;
	}
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	free(pad_bytes);
	return 0;
}
