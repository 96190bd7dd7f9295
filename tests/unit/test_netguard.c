/* Unit tests for the private-address guard's classifier (netguard.c): a
 * table of addresses on both sides of every range's boundaries, IPv4 and
 * IPv6, and IPv4 carried in IPv6 (mapped, compatible, NAT64, 6to4, Teredo);
 * socket addresses; localhost names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "hsbridge/netguard.h"

struct row {
	const char *addr;
	enum ng_class want;
};

#define P NG_PUBLIC

static const struct row rows[] = {
    /* 0.0.0.0/8 */
    {"0.0.0.0", NG_UNSPECIFIED},
    {"0.0.0.1", NG_THIS_NETWORK},
    {"0.255.255.255", NG_THIS_NETWORK},
    {"1.0.0.0", P},
    /* 10.0.0.0/8 */
    {"9.255.255.255", P},
    {"10.0.0.0", NG_PRIVATE},
    {"10.255.255.255", NG_PRIVATE},
    {"11.0.0.0", P},
    /* 100.64.0.0/10, with Alibaba's metadata inside */
    {"100.63.255.255", P},
    {"100.64.0.0", NG_CGNAT},
    {"100.100.100.199", NG_CGNAT},
    {"100.100.100.200", NG_METADATA},
    {"100.127.255.255", NG_CGNAT},
    {"100.128.0.0", P},
    /* 127.0.0.0/8 */
    {"126.255.255.255", P},
    {"127.0.0.0", NG_LOOPBACK},
    {"127.0.0.1", NG_LOOPBACK},
    {"127.255.255.255", NG_LOOPBACK},
    {"128.0.0.0", P},
    /* Azure's wire server, a public address */
    {"168.63.129.15", P},
    {"168.63.129.16", NG_METADATA},
    {"168.63.129.17", P},
    /* 169.254.0.0/16 and the metadata addresses in it */
    {"169.253.255.255", P},
    {"169.254.0.0", NG_LINK_LOCAL},
    {"169.254.169.253", NG_LINK_LOCAL},
    {"169.254.169.254", NG_METADATA},
    {"169.254.169.255", NG_LINK_LOCAL},
    {"169.254.170.2", NG_METADATA},
    {"169.254.255.255", NG_LINK_LOCAL},
    {"169.255.0.0", P},
    /* 172.16.0.0/12 */
    {"172.15.255.255", P},
    {"172.16.0.0", NG_PRIVATE},
    {"172.31.255.255", NG_PRIVATE},
    {"172.32.0.0", P},
    /* 192.0.0.0/24, 192.0.2.0/24 */
    {"191.255.255.255", P},
    {"192.0.0.0", NG_RESERVED},
    {"192.0.0.255", NG_RESERVED},
    {"192.0.1.0", P},
    {"192.0.2.0", NG_RESERVED},
    {"192.0.2.255", NG_RESERVED},
    {"192.0.3.0", P},
    /* 192.88.99.0/24 */
    {"192.88.98.255", P},
    {"192.88.99.0", NG_RESERVED},
    {"192.88.99.255", NG_RESERVED},
    {"192.88.100.0", P},
    /* 192.168.0.0/16 */
    {"192.167.255.255", P},
    {"192.168.0.0", NG_PRIVATE},
    {"192.168.255.255", NG_PRIVATE},
    {"192.169.0.0", P},
    /* 198.18.0.0/15 */
    {"198.17.255.255", P},
    {"198.18.0.0", NG_RESERVED},
    {"198.19.255.255", NG_RESERVED},
    {"198.20.0.0", P},
    /* 198.51.100.0/24, 203.0.113.0/24 */
    {"198.51.99.255", P},
    {"198.51.100.0", NG_RESERVED},
    {"198.51.100.255", NG_RESERVED},
    {"198.51.101.0", P},
    {"203.0.112.255", P},
    {"203.0.113.0", NG_RESERVED},
    {"203.0.113.255", NG_RESERVED},
    {"203.0.114.0", P},
    /* 224.0.0.0/4, 240.0.0.0/4, broadcast */
    {"223.255.255.255", P},
    {"224.0.0.0", NG_MULTICAST},
    {"239.255.255.255", NG_MULTICAST},
    {"240.0.0.0", NG_RESERVED},
    {"255.255.255.254", NG_RESERVED},
    {"255.255.255.255", NG_BROADCAST},
    {"8.8.8.8", P},
    {"93.184.216.34", P},
    /* IPv6: ::, ::1, and IPv4-compatible ::/96 around them */
    {"::", NG_UNSPECIFIED},
    {"::1", NG_LOOPBACK},
    {"::2", NG_THIS_NETWORK},
    {"::7f00:1", NG_LOOPBACK},
    {"::808:808", P},
    /* IPv4-mapped */
    {"::ffff:127.0.0.1", NG_LOOPBACK},
    {"::ffff:10.1.2.3", NG_PRIVATE},
    {"::ffff:169.254.169.254", NG_METADATA},
    {"::ffff:100.64.0.1", NG_CGNAT},
    {"::ffff:224.0.0.1", NG_MULTICAST},
    {"::ffff:0.0.0.0", NG_UNSPECIFIED},
    {"::ffff:8.8.8.8", P},
    {"::fffe:7f00:1", P}, /* not mapped: ::fffe:0:0/96 is public space */
    {"::1:ffff:7f00:1", P},
    /* NAT64 64:ff9b::/96, and the local-use 64:ff9b:1::/48 */
    {"64:ff9b::7f00:1", NG_LOOPBACK},
    {"64:ff9b::a9fe:a9fe", NG_METADATA},
    {"64:ff9b::808:808", P},
    {"64:ff9b:1::", NG_RESERVED},
    {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", NG_RESERVED},
    {"64:ff9b:2::", P},
    {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", P},
    /* 100::/64 */
    {"100::", NG_RESERVED},
    {"100::ffff:ffff:ffff:ffff", NG_RESERVED},
    {"100:0:0:1::", P},
    {"ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
    /* Teredo 2001::/32: the client's IPv4, inverted, in the last 32 bits */
    {"2001:0:4136:e378:8000:63bf:80ff:fffe", NG_LOOPBACK}, /* ~7f000001 */
    {"2001:0:4136:e378:8000:63bf:f7f7:f7f7", P},	       /* ~08080808 */
    /* 2001:db8::/32 */
    {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", P},
    {"2001:db8::", NG_RESERVED},
    {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", NG_RESERVED},
    {"2001:db9::", P},
    /* 6to4 2002::/16 */
    {"2002:7f00:1::", NG_LOOPBACK},
    {"2002:c0a8:101::1", NG_PRIVATE},
    {"2002:808:808::1", P},
    {"2003::1", P},
    {"2606:4700::1111", P},
    /* fc00::/7, with AWS's metadata inside */
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
    {"fc00::", NG_UNIQUE_LOCAL},
    {"fd00:ec2::253", NG_UNIQUE_LOCAL},
    {"fd00:ec2::254", NG_METADATA},
    {"fd00:ec2::255", NG_UNIQUE_LOCAL},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NG_UNIQUE_LOCAL},
    /* fe80::/10, fec0::/10 */
    {"fe00::", P},
    {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", P},
    {"fe80::", NG_LINK_LOCAL},
    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NG_LINK_LOCAL},
    {"fec0::", NG_PRIVATE},
    {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NG_PRIVATE},
    /* ff00::/8 */
    {"ff00::", NG_MULTICAST},
    {"ff02::1", NG_MULTICAST},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NG_MULTICAST},
    /* not addresses */
    {"localhost", NG_UNKNOWN},
    {"example.com", NG_UNKNOWN},
    {"127.1", NG_UNKNOWN},
    {"fe80::1%eth0", NG_UNKNOWN},
    {"", NG_UNKNOWN},
};

static void every_boundary_of_the_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum ng_class got = ng_classify_text(rows[i].addr);

		if (got != rows[i].want)
			fail_msg("%s: %s, want %s", rows[i].addr, ng_class_name(got),
				 ng_class_name(rows[i].want));
	}
	assert_int_equal(ng_classify_text(NULL), NG_UNKNOWN);
}

static void socket_addresses_are_judged_like_text(void **state)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	char buf[64];

	(void)state;
	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(80);
	assert_int_equal(inet_pton(AF_INET, "169.254.169.254", &in4.sin_addr), 1);
	assert_int_equal(ng_classify_sockaddr((struct sockaddr *)&in4, sizeof(in4)), NG_METADATA);
	ng_format_sockaddr((struct sockaddr *)&in4, sizeof(in4), buf, sizeof(buf));
	assert_string_equal(buf, "169.254.169.254");
	/* Too short to hold the address: not judged as one. */
	assert_int_equal(ng_classify_sockaddr((struct sockaddr *)&in4, 4), NG_UNKNOWN);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:192.168.1.1", &in6.sin6_addr), 1);
	assert_int_equal(ng_classify_sockaddr((struct sockaddr *)&in6, sizeof(in6)), NG_PRIVATE);
	ng_format_sockaddr((struct sockaddr *)&in6, sizeof(in6), buf, sizeof(buf));
	assert_string_equal(buf, "::ffff:192.168.1.1");
	assert_int_equal(inet_pton(AF_INET6, "2a00:1450:4001::200e", &in6.sin6_addr), 1);
	assert_int_equal(ng_classify_sockaddr((struct sockaddr *)&in6, sizeof(in6)), NG_PUBLIC);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(ng_classify_sockaddr((struct sockaddr *)&un, sizeof(un)), NG_UNKNOWN);
	ng_format_sockaddr((struct sockaddr *)&un, sizeof(un), buf, sizeof(buf));
	assert_string_equal(buf, "?");
	assert_int_equal(ng_classify_sockaddr(NULL, 0), NG_UNKNOWN);
}

static void localhost_names(void **state)
{
	(void)state;
	assert_true(ng_is_localhost_name("localhost"));
	assert_true(ng_is_localhost_name("LocalHost."));
	assert_true(ng_is_localhost_name("api.localhost"));
	assert_true(ng_is_localhost_name("x.LOCALHOST."));
	assert_false(ng_is_localhost_name("notlocalhost"));
	assert_false(ng_is_localhost_name("localhost.example.com"));
	assert_false(ng_is_localhost_name("localhos"));
	assert_false(ng_is_localhost_name(""));
	assert_false(ng_is_localhost_name(NULL));
}

static void every_class_has_a_name(void **state)
{
	(void)state;
	for (int c = NG_PUBLIC; c <= NG_UNKNOWN; c++)
		assert_non_null(ng_class_name((enum ng_class)c));
	assert_string_equal(ng_class_name(NG_LOOPBACK), "loopback");
	assert_string_equal(ng_class_name((enum ng_class)99), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_boundary_of_the_table),
	    cmocka_unit_test(socket_addresses_are_judged_like_text),
	    cmocka_unit_test(localhost_names),
	    cmocka_unit_test(every_class_has_a_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
