/* netguard: the address classes of netguard.h, as tables of prefixes. */
#include "hsbridge/netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct v4_range {
	uint32_t net;
	unsigned bits;
	enum ng_class cls;
};

/* First match wins: the single metadata addresses come before the ranges
 * that hold them. IANA's special-purpose registry, plus the metadata
 * services of the large clouds. */
static const struct v4_range v4_ranges[] = {
    {0xa9fea9feu, 32, NG_METADATA},	/* 169.254.169.254: AWS, GCP, Azure, OCI, ... */
    {0xa9feaa02u, 32, NG_METADATA},	/* 169.254.170.2: AWS ECS task metadata */
    {0x646464c8u, 32, NG_METADATA},	/* 100.100.100.200: Alibaba Cloud */
    {0xa83f8110u, 32, NG_METADATA},	/* 168.63.129.16: Azure's wire server (public space) */
    {0x00000000u, 32, NG_UNSPECIFIED},	/* 0.0.0.0 */
    {0x00000000u, 8, NG_THIS_NETWORK},	/* 0.0.0.0/8 */
    {0x0a000000u, 8, NG_PRIVATE},	/* 10.0.0.0/8 */
    {0x64400000u, 10, NG_CGNAT},	/* 100.64.0.0/10 */
    {0x7f000000u, 8, NG_LOOPBACK},	/* 127.0.0.0/8 */
    {0xa9fe0000u, 16, NG_LINK_LOCAL},	/* 169.254.0.0/16 */
    {0xac100000u, 12, NG_PRIVATE},	/* 172.16.0.0/12 */
    {0xc0000000u, 24, NG_RESERVED},	/* 192.0.0.0/24: IETF protocol assignments */
    {0xc0000200u, 24, NG_RESERVED},	/* 192.0.2.0/24: TEST-NET-1 */
    {0xc0586300u, 24, NG_RESERVED},	/* 192.88.99.0/24: 6to4 relay anycast */
    {0xc0a80000u, 16, NG_PRIVATE},	/* 192.168.0.0/16 */
    {0xc6120000u, 15, NG_RESERVED},	/* 198.18.0.0/15: benchmarking */
    {0xc6336400u, 24, NG_RESERVED},	/* 198.51.100.0/24: TEST-NET-2 */
    {0xcb007100u, 24, NG_RESERVED},	/* 203.0.113.0/24: TEST-NET-3 */
    {0xe0000000u, 4, NG_MULTICAST},	/* 224.0.0.0/4 */
    {0xffffffffu, 32, NG_BROADCAST},	/* 255.255.255.255 */
    {0xf0000000u, 4, NG_RESERVED},	/* 240.0.0.0/4 */
};

static uint32_t mask_of(unsigned bits)
{
	return bits == 0 ? 0 : 0xffffffffu << (32 - bits);
}

enum ng_class ng_classify_v4(uint32_t addr)
{
	for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
		if ((addr & mask_of(v4_ranges[i].bits)) == v4_ranges[i].net)
			return v4_ranges[i].cls;
	}
	return NG_PUBLIC;
}

struct v6_range {
	unsigned char net[16];
	unsigned bits;
	enum ng_class cls;
};

static const struct v6_range v6_ranges[] = {
    /* fd00:ec2::254: AWS's metadata over IPv6 (inside fc00::/7) */
    {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128, NG_METADATA},
    {{0}, 128, NG_UNSPECIFIED},						  /* :: */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, NG_LOOPBACK}, /* ::1 */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, NG_RESERVED}, /* 64:ff9b:1::/48: local NAT64 */
    {{0x01, 0x00}, 64, NG_RESERVED},		      /* 100::/64: discard-only */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, NG_RESERVED},      /* 2001:db8::/32: documentation */
    {{0xfc}, 7, NG_UNIQUE_LOCAL},		      /* fc00::/7 */
    {{0xfe, 0x80}, 10, NG_LINK_LOCAL},		      /* fe80::/10 */
    {{0xfe, 0xc0}, 10, NG_PRIVATE},		      /* fec0::/10: site-local */
    {{0xff}, 8, NG_MULTICAST},			      /* ff00::/8 */
};

static bool prefix_match(const unsigned char *a, const unsigned char *net, unsigned bits)
{
	unsigned whole = bits / 8;
	unsigned rest = bits % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ net[whole]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

static uint32_t v4_at(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* An IPv4 address inside an IPv6 one reaches that IPv4 host (the stack, a
 * NAT64 gateway or a tunnel translates it): it is judged as that address.
 * Returns whether a carries one, with it in *v4. */
static bool embedded_v4(const unsigned char *a, uint32_t *v4)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char compat[12] = {0};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, compat, 12) == 0 ||
	    memcmp(a, nat64, 12) == 0) {
		*v4 = v4_at(a + 12); /* ::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d */
		return true;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		*v4 = v4_at(a + 2); /* 6to4: 2002:AABB:CCDD::/48 */
		return true;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		*v4 = ~v4_at(a + 12); /* Teredo: the client's address, inverted */
		return true;
	}
	return false;
}

enum ng_class ng_classify_v6(const unsigned char addr[16])
{
	uint32_t v4;

	/* The exact addresses (metadata, ::, ::1) before the IPv4-compatible
	 * ::/96 would read them as 0.0.0.0 and 0.0.0.1. */
	for (size_t i = 0; i < 3; i++) {
		if (prefix_match(addr, v6_ranges[i].net, v6_ranges[i].bits))
			return v6_ranges[i].cls;
	}
	if (embedded_v4(addr, &v4))
		return ng_classify_v4(v4);
	for (size_t i = 3; i < sizeof(v6_ranges) / sizeof(v6_ranges[0]); i++) {
		if (prefix_match(addr, v6_ranges[i].net, v6_ranges[i].bits))
			return v6_ranges[i].cls;
	}
	return NG_PUBLIC;
}

enum ng_class ng_classify_sockaddr(const struct sockaddr *sa, socklen_t len)
{
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return ng_classify_v4(ntohl(in->sin_addr.s_addr));
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		return ng_classify_v6(in6->sin6_addr.s6_addr);
	}
	return NG_UNKNOWN;
}

enum ng_class ng_classify_text(const char *text)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!text)
		return NG_UNKNOWN;
	if (inet_pton(AF_INET, text, &a4) == 1)
		return ng_classify_v4(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, text, &a6) == 1)
		return ng_classify_v6(a6.s6_addr);
	return NG_UNKNOWN;
}

const char *ng_class_name(enum ng_class c)
{
	static const char *const names[] = {
	    [NG_PUBLIC] = "public",	       [NG_UNSPECIFIED] = "unspecified",
	    [NG_THIS_NETWORK] = "this network", [NG_LOOPBACK] = "loopback",
	    [NG_PRIVATE] = "private",	       [NG_CGNAT] = "carrier-grade NAT",
	    [NG_LINK_LOCAL] = "link-local",    [NG_METADATA] = "cloud metadata",
	    [NG_UNIQUE_LOCAL] = "unique local", [NG_MULTICAST] = "multicast",
	    [NG_BROADCAST] = "broadcast",      [NG_RESERVED] = "reserved",
	    [NG_UNKNOWN] = "not an IP address",
	};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "invalid";
}

bool ng_is_localhost_name(const char *host)
{
	static const char name[] = "localhost";
	size_t len = host ? strlen(host) : 0;
	size_t n = sizeof(name) - 1;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len < n || strncasecmp(host + len - n, name, n) != 0)
		return false;
	return len == n || host[len - n - 1] == '.';
}

void ng_format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	const void *a = NULL;

	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)buflen))
		snprintf(buf, buflen, "?");
}
