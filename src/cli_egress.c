/* cli: the lines `check` prints about how a subscription's requests leave
 * (issue 12): client certificate, CA, proxy, rate limit, address guard.
 * No key, no password, no proxy credentials. */
#include "cli_int.h"

#include <stdio.h>
#include <string.h>

void cli_print_sub_egress(const struct cfg_sub *s)
{
	const struct cfg_egress *e = &s->egress;

	if (e->tls_client_cert)
		printf("  mTLS:     client certificate %s (subject %s; key not shown)\n",
		       e->tls_client_cert,
		       e->tls_client_subject ? e->tls_client_subject : "not read");
	else
		printf("  mTLS:     off (no tls_client_cert)\n");
	printf("  CA:       %s\n", e->tls_ca_file ? e->tls_ca_file : "the system's (no tls_ca_file)");
	if (!e->proxy)
		printf("  proxy:    none (http_proxy, https_proxy, all_proxy are ignored)\n");
	else if (strcmp(e->proxy, CFG_PROXY_ENV) == 0)
		printf("  proxy:    from the environment (http_proxy, https_proxy, all_proxy, "
		       "no_proxy)\n");
	else
		printf("  proxy:    %s%s\n", e->proxy_shown,
		       strchr(e->proxy, '@') ? " (credentials not shown)" : "");
	if (e->max_per_second > 0)
		printf("  rate:     at most %ld requests per second, bursts of %ld\n",
		       e->max_per_second, e->max_per_second);
	else
		printf("  rate:     no limit (max_per_second unset)\n");
	if (e->allow_private_addresses)
		printf("  guard:    off (allow_private_addresses = true: any address, "
		       "internal ones too)\n");
	else
		printf("  guard:    on (public addresses only%s)\n",
		       e->proxy ? "; through a proxy, only an IP or localhost host is judged"
				: "");
}
