/* broker_tls: the TLS socket to an amqps:// broker.
 *
 * rabbitmq-c 0.11 verifies the chain (SSL_get_verify_result after the
 * handshake) and then checks the URL's host against the certificate's DNS
 * names only (amqp_openssl_hostname_validation.c looks at GEN_DNS entries
 * and the CN, never at GEN_IPADD): an IP address in broker.url failed
 * against a certificate that lists it. For an IP address its name check is
 * turned off and OpenSSL's own check of the IP address entries is asked for
 * instead, on the SSL_CTX that rabbitmq-c hands out: the address is then
 * part of the chain verification that rabbitmq-c requires to succeed. A
 * verify callback records the first error of that verification, which
 * rabbitmq-c keeps to itself, so that the failure can be named. */
#include "hsbridge/broker_tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include <amqp_ssl_socket.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "broker_int.h"

bool brk_host_is_ip(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return host &&
	       (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1);
}

/* Errors that mean: the CA bundle holds no CA that signed this certificate. */
static bool unknown_issuer(long e)
{
	return e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	       e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	       e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
}

static void explain_peer(long verify_err, const char *host, const char *where, const char *ca_file,
			 char *err, size_t errlen)
{
	if (verify_err == X509_V_ERR_IP_ADDRESS_MISMATCH)
		snprintf(err, errlen,
			 "TLS certificate verification failed: the certificate of the broker at %s "
			 "does not list the IP address %s (an IP address in broker.url must be one "
			 "of the certificate's IP address entries; else use a DNS name the "
			 "certificate lists)",
			 where, host);
	else if (unknown_issuer(verify_err))
		snprintf(err, errlen,
			 "TLS certificate verification failed for the broker at %s: %s (%s%s does "
			 "not hold the CA that signed the broker's certificate: set broker.ca_file "
			 "to that CA)",
			 where, X509_verify_cert_error_string(verify_err),
			 ca_file ? "broker.ca_file " : "the system's CA bundle ",
			 ca_file ? ca_file : BRK_SYSTEM_CA_FILE);
	else if (verify_err != X509_V_OK)
		snprintf(err, errlen,
			 "TLS certificate verification failed for the broker at %s: %s", where,
			 X509_verify_cert_error_string(verify_err));
	else
		snprintf(
		    err, errlen,
		    "TLS certificate verification failed: the broker at %s sent no certificate",
		    where);
}

bool brk_tls_explain(int status, long verify_err, const char *host, const char *where,
		     const char *ca_file, char *err, size_t errlen)
{
	if (!err || !errlen)
		return false;
	switch (status) {
	case AMQP_STATUS_SSL_PEER_VERIFY_FAILED:
		explain_peer(verify_err, host, where, ca_file, err, errlen);
		return true;
	case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED:
		snprintf(err, errlen,
			 "TLS certificate verification failed: the certificate of the broker at %s "
			 "does not name the host %s (the host in broker.url must be one of the "
			 "certificate's DNS names)",
			 where, host);
		return true;
	case AMQP_STATUS_SSL_CONNECTION_FAILED:
		snprintf(err, errlen,
			 "TLS handshake with the broker at %s failed (is it the broker's TLS port? "
			 "RabbitMQ's usual one is 5671)",
			 where);
		return true;
	case AMQP_STATUS_SSL_ERROR:
	case AMQP_STATUS_SSL_SET_ENGINE_FAILED:
		snprintf(err, errlen, "TLS error with the broker at %s", where);
		return true;
	default:
		return false;
	}
}

/* Records the first error of the chain verification in the connection
 * (the SSL_CTX's app data). The verify mode stays rabbitmq-c's
 * SSL_VERIFY_NONE, so the handshake's course is unchanged: rabbitmq-c
 * refuses the peer afterwards on SSL_get_verify_result. */
static int on_verify(int ok, X509_STORE_CTX *sctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct brk *b = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;

	if (!ok && b && b->tls_verify_err == X509_V_OK)
		b->tls_verify_err = X509_STORE_CTX_get_error(sctx);
	return ok;
}

/* For an IP address: OpenSSL checks it against the certificate's IP
 * address entries while verifying the chain; rabbitmq-c's DNS-only check
 * is off. For a name: rabbitmq-c checks it. */
static int verify_host(struct brk *b, amqp_socket_t *sock, const char *host)
{
	SSL_CTX *ctx = amqp_ssl_socket_get_context(sock);
	bool ip = brk_host_is_ip(host);

	if (!ctx)
		return -1;
	SSL_CTX_set_app_data(ctx, b);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, on_verify);
	if (ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), host) != 1)
		return -1;
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, ip ? 0 : 1);
	return 0;
}

amqp_socket_t *brk_tls_socket(struct brk *b, const char *host, const char *ca_file, char *err,
			      size_t errlen)
{
	const char *bundle = ca_file ? ca_file : BRK_SYSTEM_CA_FILE;
	amqp_socket_t *sock = amqp_ssl_socket_new(b->conn);

	b->tls_verify_err = X509_V_OK;
	if (!sock) {
		snprintf(err, errlen, "cannot create a TLS socket");
		return NULL;
	}
	/* The socket belongs to the connection from here on: it is freed with
	 * it, also when this fails. */
	if (amqp_ssl_socket_set_cacert(sock, bundle) != AMQP_STATUS_OK) {
		snprintf(err, errlen, "cannot read the CA bundle %s", bundle);
		return NULL;
	}
	if (verify_host(b, sock, host) != 0) {
		snprintf(err, errlen, "cannot set up the TLS certificate checks for %s", host);
		return NULL;
	}
	return sock;
}
