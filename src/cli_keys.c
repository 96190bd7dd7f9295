/* cli: the Ed25519 keys of Standard Webhooks "v1a": keygen makes a pair,
 * pubkey prints what to hand an integrator; and the summary lines `check`
 * prints about a subscription's signing and headers. Never a secret key on
 * stderr, never a header value anywhere. */
#include "cli_int.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/crypto.h>

#include "hsbridge/signature.h"

int cli_cmd_keygen(struct cfg **cfgp, const struct cli_args *a)
{
	char whsk[SIG_WHSK_LEN];
	char whpk[SIG_WHPK_LEN];
	int rc = EX_OK;

	(void)cfgp;
	(void)a;
	if (sig_ed25519_generate(whsk, sizeof(whsk), whpk, sizeof(whpk)) != 0) {
		fprintf(stderr, "hsbridge: cannot generate an Ed25519 key\n");
		rc = EX_SOFTWARE;
	} else {
		printf("%s\n%s\n", whsk, whpk);
	}
	OPENSSL_cleanse(whsk, sizeof(whsk));
	return rc;
}

/* whsk's public key on a line of its own. EX_OK or EX_SOFTWARE. */
static int print_public(const char *whsk)
{
	char whpk[SIG_WHPK_LEN];

	/* The config loader checked every key: only memory can fail here. */
	if (sig_ed25519_public(whsk, whpk, sizeof(whpk)) != SIG_KEY_OK) {
		fprintf(stderr, "hsbridge: cannot derive a public key\n");
		return EX_SOFTWARE;
	}
	printf("%s\n", whpk);
	return EX_OK;
}

int cli_cmd_pubkey(struct cfg **cfgp, const struct cli_args *a)
{
	const struct cfg_sub *s = cli_find_sub(*cfgp, a->operand[0]);
	int rc;

	if (!s)
		return EX_USAGE;
	if (!s->signing_key) {
		fprintf(stderr,
			"hsbridge: subscription \"%s\" has no signing_key: its requests carry no "
			"v1a signature (hsbridge keygen makes a key)\n",
			s->name);
		return EX_CONFIG;
	}
	/* The current key first; then those still signed with, which the
	 * integrator may keep trusting until the rotation ends. */
	rc = print_public(s->signing_key);
	for (size_t i = 0; rc == EX_OK && i < s->n_previous_signing; i++)
		rc = print_public(s->previous_signing_keys[i]);
	return rc;
}

void cli_print_sub_extras(const struct cfg_sub *s)
{
	static const char *const source[] = {"", " (from value_file)", " (from value_env)"};
	char whpk[SIG_WHPK_LEN];

	if (!s->has_signing_key)
		printf("  v1a:      off (no signing_key)\n");
	else if (!s->signing_key || sig_ed25519_public(s->signing_key, whpk, sizeof(whpk)) != 0)
		printf("  v1a:      Ed25519 (key not read)\n");
	else
		printf("  v1a:      Ed25519, public key %s, %zu previous key%s\n", whpk,
		       s->n_previous_signing, s->n_previous_signing == 1 ? "" : "s");
	if (s->n_headers == 0) {
		printf("  headers:  none\n");
		return;
	}
	printf("  headers: ");
	for (size_t i = 0; i < s->n_headers; i++)
		printf(" %s%s%s", s->headers[i].name, source[s->headers[i].source],
		       i + 1 < s->n_headers ? "," : "");
	printf(" (values not shown)\n");
}
