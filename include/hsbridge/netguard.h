/* netguard: the private-address guard (allow_private_addresses). Which
 * addresses a webhook may not be sent to: what is not on the public
 * internet (loopback, private, link-local, CGNAT, unique local), the cloud
 * metadata services, multicast and broadcast, and the reserved ranges, for
 * IPv4 and IPv6, including an IPv4 address carried in IPv6 (mapped,
 * compatible, NAT64, 6to4, Teredo). Pure: an address in, a class out. */
#ifndef HSBRIDGE_NETGUARD_H
#define HSBRIDGE_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum ng_class {
	NG_PUBLIC, /* allowed */
	NG_UNSPECIFIED,	  /* 0.0.0.0, :: */
	NG_THIS_NETWORK,  /* 0.0.0.0/8 */
	NG_LOOPBACK,	  /* 127.0.0.0/8, ::1 */
	NG_PRIVATE,	  /* 10/8, 172.16/12, 192.168/16, fec0::/10 (site-local) */
	NG_CGNAT,	  /* 100.64.0.0/10 */
	NG_LINK_LOCAL,	  /* 169.254.0.0/16, fe80::/10 */
	NG_METADATA,	  /* cloud instance metadata: 169.254.169.254, fd00:ec2::254, ... */
	NG_UNIQUE_LOCAL,  /* fc00::/7 */
	NG_MULTICAST,	  /* 224.0.0.0/4, ff00::/8 */
	NG_BROADCAST,	  /* 255.255.255.255 */
	NG_RESERVED,	  /* protocol, documentation, benchmarking, 240/4, NAT64 local, discard */
	NG_UNKNOWN,	  /* not IPv4 or IPv6 (a unix socket...): refused too */
};

/* An IPv4 address in host byte order (10.0.0.1 is 0x0a000001). */
enum ng_class ng_classify_v4(uint32_t addr);
/* An IPv6 address, 16 bytes in network order. */
enum ng_class ng_classify_v6(const unsigned char addr[16]);
/* What a socket would connect to. */
enum ng_class ng_classify_sockaddr(const struct sockaddr *sa, socklen_t len);
/* A textual IPv4 or IPv6 address (no brackets, no zone): its class, or
 * NG_UNKNOWN when it is not one (a host name). */
enum ng_class ng_classify_text(const char *text);

/* "localhost" or a name under .localhost (RFC 6761): loopback whoever
 * resolves it (with a proxy: the proxy's own loopback). Case-insensitive,
 * a final dot allowed. */
bool ng_is_localhost_name(const char *host);

/* The address of sa as text ("127.0.0.1", "::1"), "?" when it is neither
 * IPv4 nor IPv6. */
void ng_format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

/* "loopback", "private", ... for messages; "public" for NG_PUBLIC. */
const char *ng_class_name(enum ng_class c);

#endif
