/* broker_tls: the TLS socket to an amqps:// broker (rabbitmq-c over
 * OpenSSL), and why a TLS connect failed in words an operator can act on. */
#ifndef HSBRIDGE_BROKER_TLS_H
#define HSBRIDGE_BROKER_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* The system's CA bundle (Debian's ca-certificates), used when no
 * broker.ca_file is given: librabbitmq 0.11 loads no default trust store. */
#define BRK_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* True when host is an IPv4 or IPv6 address (without brackets), not a name. */
bool brk_host_is_ip(const char *host);

/* Explains a failed TLS connect: status is rabbitmq-c's (AMQP_STATUS_SSL_*),
 * verify_err the first X509_V_ERR_* the certificate check met (0: none
 * recorded), where "host:port", ca_file NULL for the system's bundle. Writes
 * err (always terminated) and returns true; false (err untouched) when
 * status is no TLS failure. Pure. */
bool brk_tls_explain(int status, long verify_err, const char *host, const char *where,
		     const char *ca_file, char *err, size_t errlen);

#endif
