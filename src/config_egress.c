/* config: how requests leave (struct cfg_egress): the client certificate
 * and its key, the CA for https endpoints, the proxy, max_per_second and
 * allow_private_addresses. The delivery group sets the defaults, each
 * subscription may replace any of them. A certificate and its key are
 * opened with OpenSSL at load, so that a wrong password or a key of another
 * certificate is a file:line error and not a failed handshake at 3 a.m. */
#include "config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static int dup_or_null(struct cfg_loader *ld, char **dst, const char *src)
{
	*dst = NULL;
	return src ? cfg_dup(ld, dst, src) : 0;
}

static void scrub_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void cfg_egress_free(struct cfg_egress *e)
{
	/* The proxy URL may hold the proxy's password. */
	scrub_free(e->proxy);
	free(e->proxy_shown);
	free(e->tls_ca_file);
	free(e->tls_client_cert);
	free(e->tls_client_key);
	scrub_free(e->tls_client_key_password);
	free(e->tls_client_subject);
	memset(e, 0, sizeof(*e));
}

int cfg_egress_copy(struct cfg_loader *ld, struct cfg_egress *dst, const struct cfg_egress *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->allow_private_addresses = src->allow_private_addresses;
	dst->max_per_second = src->max_per_second;
	return dup_or_null(ld, &dst->proxy, src->proxy) != 0 ||
		       dup_or_null(ld, &dst->proxy_shown, src->proxy_shown) != 0 ||
		       dup_or_null(ld, &dst->tls_ca_file, src->tls_ca_file) != 0 ||
		       dup_or_null(ld, &dst->tls_client_cert, src->tls_client_cert) != 0 ||
		       dup_or_null(ld, &dst->tls_client_key, src->tls_client_key) != 0 ||
		       dup_or_null(ld, &dst->tls_client_key_password,
				   src->tls_client_key_password) != 0 ||
		       dup_or_null(ld, &dst->tls_client_subject, src->tls_client_subject) != 0
		   ? -1
		   : 0;
}

/* The schemes libcurl proxies through. */
static bool proxy_scheme_ok(const char *url)
{
	static const char *const schemes[] = {"http://",   "https://",	"socks4://",
					      "socks4a://", "socks5://", "socks5h://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (starts_with(url, schemes[i]))
			return true;
	}
	return false;
}

/* scheme://host:port of a proxy URL, without user and password. */
static int proxy_shown(struct cfg_loader *ld, const config_setting_t *at, const char *url,
		       struct cfg_egress *e)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	char buf[512];
	int rc = -1;

	if (!h)
		return cfg_oom(ld);
	/* Never repeat the URL: it may hold the proxy's password. */
	if (curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		rc = cfg_fail(ld, at, "proxy is not a valid URL (scheme://host:port)");
		goto out;
	}
	/* Without a port libcurl goes to 1080 (443 for an https proxy), not
	 * to the scheme's usual port: show where it really goes. */
	if (curl_url_get(h, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	snprintf(buf, sizeof(buf), "%s://%s:%s", scheme, host,
		 port ? port : strcmp(scheme, "https") == 0 ? "443" : "1080");
	rc = cfg_dup(ld, &e->proxy_shown, buf);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return rc;
}

/* proxy: "" (none, even where the delivery group names one), "env" (the
 * environment's variables, as libcurl reads them), or a proxy URL. */
static int load_proxy(struct cfg_loader *ld, const config_setting_t *g, struct cfg_egress *e)
{
	const config_setting_t *at = NULL;
	const char *url = NULL;

	if (cfg_get_string(ld, g, "proxy", &url, &at) != 0)
		return -1;
	if (!at)
		return 0;
	scrub_free(e->proxy);
	free(e->proxy_shown);
	e->proxy = e->proxy_shown = NULL;
	if (!*url)
		return 0;
	if (strcmp(url, CFG_PROXY_ENV) == 0)
		return cfg_dup(ld, &e->proxy, url) != 0 || cfg_dup(ld, &e->proxy_shown, url) != 0
			   ? -1
			   : 0;
	if (!proxy_scheme_ok(url))
		return cfg_fail(ld, at,
				"proxy must be \"\", \"env\" or a URL starting with http://, "
				"https://, socks4://, socks4a://, socks5:// or socks5h://");
	if (proxy_shown(ld, at, url, e) != 0)
		return -1;
	if (strchr(url, '@') && cfg_warn_if_inline_exposed(ld, at, "proxy: a password") != 0)
		return -1;
	return cfg_dup(ld, &e->proxy, url);
}

/* A PEM file key (tls_ca_file, tls_client_cert, tls_client_key): its path,
 * relative to the config file's directory, must be readable. *at: the key's
 * setting, NULL when absent (*dst unchanged). */
static int load_file(struct cfg_loader *ld, const config_setting_t *g, const char *key, char **dst,
		     const config_setting_t **at)
{
	const char *file = NULL;
	char *path;

	if (cfg_get_string(ld, g, key, &file, at) != 0)
		return -1;
	if (!*at)
		return 0;
	free(*dst);
	*dst = NULL;
	if (!*file)
		return 0; /* "": none, even where the delivery group names one */
	path = cfg_resolve_path(ld->path, file);
	if (!path)
		return cfg_oom(ld);
	if (access(path, R_OK) != 0) {
		int err = errno;

		free(path);
		return cfg_fail(ld, *at, "cannot read %s%s: %s", key,
				file[0] == '/' ? "" : " (relative to the config file's directory)",
				strerror(err));
	}
	*dst = path;
	return 0;
}

/* The key's password, handed to OpenSSL as PEM_read_bio_PrivateKey asks. */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	size_t len = pw ? strlen(pw) : 0;

	(void)rwflag;
	if (!pw || len > (size_t)size)
		return -1;
	memcpy(buf, pw, len);
	return (int)len;
}

/* The certificate's subject on one line (RFC 2253), for `check`. */
static char *subject_of(X509 *cert)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *out = NULL;
	char *data;
	long len;

	if (!mem)
		return NULL;
	if (X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(mem, &data);
		out = len >= 0 ? strndup(data, (size_t)len) : NULL;
	}
	BIO_free(mem);
	return out;
}

static X509 *read_cert(const char *path)
{
	BIO *in = BIO_new_file(path, "r");
	X509 *cert = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;

	BIO_free(in);
	return cert;
}

static EVP_PKEY *read_key(const char *path, const char *password)
{
	BIO *in = BIO_new_file(path, "r");
	/* No password: a NULL one, so that OpenSSL never prompts on a tty. */
	EVP_PKEY *key = in ? PEM_read_bio_PrivateKey(in, NULL, password_cb, (void *)password)
			   : NULL;

	BIO_free(in);
	return key;
}

/* Both or neither; the certificate a PEM certificate; the key one that
 * opens (with the password, never shown) and belongs to it. Under
 * CFG_NO_SECRETS the key is not read (an operator running status may not
 * be allowed to). at: where to report. */
/* An unencrypted client key that group or others can read is as good as
 * theirs: warned like a readable secret file. */
static int warn_if_key_exposed(struct cfg_loader *ld, const config_setting_t *at,
			       const struct cfg_egress *e)
{
	if (e->tls_client_key_password)
		return 0;
	return cfg_warn_if_file_exposed(ld, at, "tls_client_key", "not encrypted and ",
					e->tls_client_key);
}

static int check_client_pair(struct cfg_loader *ld, const config_setting_t *at,
			     struct cfg_egress *e)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	free(e->tls_client_subject);
	e->tls_client_subject = NULL;
	if (!e->tls_client_cert && !e->tls_client_key)
		return 0;
	if (!e->tls_client_cert || !e->tls_client_key)
		return cfg_fail(ld, at, "tls_client_cert and tls_client_key go together: set both");
	cert = read_cert(e->tls_client_cert);
	if (!cert) {
		rc = cfg_fail(ld, at, "tls_client_cert is not a PEM certificate");
		goto out;
	}
	e->tls_client_subject = subject_of(cert);
	if (!e->tls_client_subject) {
		rc = cfg_oom(ld);
		goto out;
	}
	if (ld->no_secrets) {
		rc = 0;
		goto out;
	}
	key = read_key(e->tls_client_key, e->tls_client_key_password);
	if (!key) {
		rc = cfg_fail(ld, at,
			      "tls_client_key cannot be opened: not a PEM private key, or %s",
			      e->tls_client_key_password
				  ? "the password (tls_client_key_password_*) is wrong"
				  : "it is encrypted and no tls_client_key_password_file or "
				    "tls_client_key_password_env is set");
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rc = cfg_fail(ld, at, "tls_client_key is not the key of tls_client_cert (%s)",
			      e->tls_client_subject);
		goto out;
	}
	rc = warn_if_key_exposed(ld, at, e);
out:
	/* What OpenSSL queued about a failed read is not ours to leave behind. */
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int load_password(struct cfg_loader *ld, const config_setting_t *g, struct cfg_egress *e,
			 const config_setting_t **at)
{
	char *pw = NULL;

	if (cfg_load_secret_from(ld, g, "tls_client_key_password", NULL, &pw, at) != 0)
		return -1;
	if (*at) {
		scrub_free(e->tls_client_key_password);
		e->tls_client_key_password = pw;
	}
	return 0;
}

static int load_guard_and_rate(struct cfg_loader *ld, const config_setting_t *g,
			       struct cfg_egress *e)
{
	const config_setting_t *at = config_setting_get_member(g, "allow_private_addresses");
	long long rate = e->max_per_second;

	if (at) {
		if (config_setting_type(at) != CONFIG_TYPE_BOOL)
			return cfg_fail(ld, at, "allow_private_addresses must be true or false");
		e->allow_private_addresses = config_setting_get_bool(at) != 0;
	}
	if (cfg_get_int(ld, g, &cfg_int_keys[I_RATE], &rate) != 0)
		return -1;
	e->max_per_second = (long)rate;
	return 0;
}

int cfg_load_egress(struct cfg_loader *ld, const config_setting_t *g, struct cfg_egress *inout)
{
	const config_setting_t *cert_at = NULL, *key_at = NULL, *pw_at = NULL, *ca_at = NULL;

	if (!g)
		return 0;
	if (load_proxy(ld, g, inout) != 0 || load_guard_and_rate(ld, g, inout) != 0 ||
	    load_file(ld, g, "tls_ca_file", &inout->tls_ca_file, &ca_at) != 0 ||
	    load_file(ld, g, "tls_client_cert", &inout->tls_client_cert, &cert_at) != 0 ||
	    load_file(ld, g, "tls_client_key", &inout->tls_client_key, &key_at) != 0 ||
	    load_password(ld, g, inout, &pw_at) != 0)
		return -1;
	/* Checked where one of the three is written; inherited ones were
	 * checked in the delivery group already. */
	if (!cert_at && !key_at && !pw_at)
		return 0;
	return check_client_pair(ld, cert_at ? cert_at : key_at ? key_at : pw_at, inout);
}
