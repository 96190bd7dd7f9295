/* Unit tests for broker_tls.c's pure part: which hosts are IP addresses
 * (checked against the certificate's IP entries by OpenSSL, not by
 * rabbitmq-c's DNS-only check) and the words of a failed TLS connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <amqp.h>
#include <openssl/x509_vfy.h>

#include "hsbridge/broker_tls.h"

static void ip_addresses_are_told_from_names(void **state)
{
	static const struct {
		const char *host;
		bool ip;
	} cases[] = {
	    {"127.0.0.1", true},   {"10.1.2.3", true},	     {"::1", true},
	    {"fe80::1", true},	   {"2001:db8::5671", true}, {"::ffff:192.0.2.1", true},
	    {"localhost", false},  {"mq.example", false},    {"127.0.0.1.nip.io", false},
	    {"1.2.3", false},	   /* inet_aton would take it; a certificate never lists it */
	    {"127.0.0.01", false}, /* nor a leading zero */
	    {"[::1]", false},	   /* brackets belong to the URL, not the host */
	    {"", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (brk_host_is_ip(cases[i].host) != cases[i].ip)
			fail_msg("brk_host_is_ip(\"%s\") should be %d", cases[i].host, cases[i].ip);
	}
	assert_false(brk_host_is_ip(NULL));
}

static void each_failure_names_its_check_and_the_fix(void **state)
{
	static const struct {
		int status;
		long verify;
		const char *host, *ca;
		const char *want[3];
	} cases[] = {
	    {AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
	     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	     "mq",
	     "/etc/ca.pem",
	     {"TLS certificate verification failed for the broker at mq:5671",
	      "unable to get local issuer certificate",
	      "broker.ca_file /etc/ca.pem does not hold the CA that signed"}},
	    {AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
	     X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
	     "mq",
	     NULL,
	     {"TLS certificate verification failed",
	      "the system's CA bundle " BRK_SYSTEM_CA_FILE " does not hold",
	      "set broker.ca_file to that CA"}},
	    {AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
	     X509_V_ERR_CERT_HAS_EXPIRED,
	     "mq",
	     "/ca.pem",
	     {"TLS certificate verification failed for the broker at mq:5671",
	      "certificate has expired", NULL}},
	    {AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
	     X509_V_ERR_IP_ADDRESS_MISMATCH,
	     "10.0.0.7",
	     "/ca.pem",
	     {"TLS certificate verification failed", "does not list the IP address 10.0.0.7",
	      "use a DNS name the certificate lists"}},
	    {AMQP_STATUS_SSL_PEER_VERIFY_FAILED,
	     X509_V_OK,
	     "mq",
	     "/ca.pem",
	     {"TLS certificate verification failed", "sent no certificate", NULL}},
	    {AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED,
	     X509_V_OK,
	     "mq",
	     "/ca.pem",
	     {"TLS certificate verification failed", "does not name the host mq",
	      "must be one of the certificate's DNS names"}},
	    {AMQP_STATUS_SSL_CONNECTION_FAILED,
	     X509_V_OK,
	     "mq",
	     "/ca.pem",
	     {"TLS handshake with the broker at mq:5671 failed", "TLS port", NULL}},
	    {AMQP_STATUS_SSL_ERROR,
	     X509_V_OK,
	     "mq",
	     NULL,
	     {"TLS error with the broker at mq:5671"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char where[64], err[512];

		snprintf(where, sizeof(where), "%s:5671", cases[i].host);
		assert_true(brk_tls_explain(cases[i].status, cases[i].verify, cases[i].host, where,
					    cases[i].ca, err, sizeof(err)));
		for (size_t w = 0; w < 3 && cases[i].want[w]; w++) {
			if (!strstr(err, cases[i].want[w]))
				fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want[w]);
		}
	}
}

static void other_failures_are_left_to_the_caller(void **state)
{
	static const int others[] = {AMQP_STATUS_OK, AMQP_STATUS_SOCKET_ERROR, AMQP_STATUS_TIMEOUT,
				     AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED};
	char err[64] = "untouched";

	(void)state;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_false(
		    brk_tls_explain(others[i], 0, "mq", "mq:5671", NULL, err, sizeof(err)));
	assert_string_equal(err, "untouched");
}

static void a_short_buffer_is_cut_and_terminated(void **state)
{
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_true(brk_tls_explain(AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED, 0, "mq", "mq:5671",
				    NULL, err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_false(brk_tls_explain(AMQP_STATUS_SSL_ERROR, 0, "mq", "mq:5671", NULL, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ip_addresses_are_told_from_names),
	    cmocka_unit_test(each_failure_names_its_check_and_the_fix),
	    cmocka_unit_test(other_failures_are_left_to_the_caller),
	    cmocka_unit_test(a_short_buffer_is_cut_and_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
