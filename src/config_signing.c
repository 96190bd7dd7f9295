/* config: a subscription's Ed25519 signing keys (Standard Webhooks "v1a"):
 * signing_key, signing_key_file or signing_key_env, and
 * previous_signing_keys. No message repeats a key. */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsbridge/signature.h"

/* A whsk_ key, or the reason it is not one, for "<what> is not ...". */
static int check_key(struct cfg_loader *ld, const config_setting_t *at, const char *what,
		     const char *key)
{
	unsigned char seed[32];
	int st = sig_ed25519_seed(key, seed);

	OPENSSL_cleanse(seed, sizeof(seed));
	if (st == SIG_KEY_OK)
		return 0;
	if (st == SIG_KEY_NOMEM)
		return cfg_oom(ld);
	/* A public key is no secret: saying so is safe and the likely slip. */
	if (starts_with(key, "whpk_"))
		return cfg_fail(ld, at,
				"%s is a public key (whpk_); it takes the secret key (whsk_, "
				"as `hsbridge keygen` prints it)",
				what);
	return cfg_fail(ld, at, "%s is not an Ed25519 whsk_ key: %s", what,
			sig_key_status_text(st));
}

static int load_previous(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *s = config_setting_get_member(g, "previous_signing_keys");
	char what[48];
	int n;

	if (!s)
		return 0;
	if (!sub->has_signing_key)
		return cfg_fail(ld, s,
				"previous_signing_keys needs a current key: set signing_key, "
				"signing_key_file or signing_key_env");
	if (cfg_check_string_array(ld, s, "previous_signing_keys", "whsk_ keys") != 0)
		return -1;
	n = config_setting_length(s);
	if (n > 0 && cfg_warn_if_inline_exposed(ld, s, "a signing key") != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		snprintf(what, sizeof(what), "previous_signing_keys[%d]", i);
		if (check_key(ld, e, what, config_setting_get_string(e)) != 0)
			return -1;
	}
	return cfg_copy_strv(ld, s, &sub->previous_signing_keys, &sub->n_previous_signing);
}

int cfg_load_signing(struct cfg_loader *ld, const config_setting_t *g, struct cfg_sub *sub)
{
	const config_setting_t *at = NULL;

	if (cfg_load_secret_from(ld, g, "signing_key", "a signing key", &sub->signing_key, &at) !=
	    0)
		return -1;
	sub->has_signing_key = at != NULL;
	if (sub->signing_key && check_key(ld, at, config_setting_name(at), sub->signing_key) != 0)
		return -1;
	return load_previous(ld, g, sub);
}
