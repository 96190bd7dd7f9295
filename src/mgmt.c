/* mgmt: one blocking GET against the management API, parsed with yajl. Used
 * by `hsbridge status` only; the bridge itself never depends on it. */
#include "hsbridge/mgmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <yajl/yajl_tree.h>

#include "hsbridge/redact.h"
#include "hsbridge/url.h"

/* RabbitMQ's customary management ports, without and with TLS. */
#define MGMT_DEFAULT_PORT 15672
#define MGMT_DEFAULT_TLS_PORT 15671
#define MGMT_BODY_MAX (16 * 1024 * 1024)
#define MGMT_TIMEOUT_MS 5000

struct body {
	char *data;
	size_t len;
	int too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > MGMT_BODY_MAX) {
		b->too_big = 1;
		return 0;
	}
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

void mgmt_base_url(const struct cfg *cfg, const char *broker_url, char *buf, size_t len)
{
	struct url_amqp u;
	size_t n;

	if (cfg->management_url) {
		snprintf(buf, len, "%s", cfg->management_url);
	} else if (url_amqp_parse(broker_url, &u) == 0) {
		/* The request carries the broker password (Basic auth): a broker
		 * reached over TLS gets its management API over TLS too. An IPv6
		 * address needs its brackets back. */
		bool v6 = strchr(u.ci.host, ':') != NULL;

		snprintf(buf, len, "%s://%s%s%s:%d", u.ci.ssl ? "https" : "http", v6 ? "[" : "",
			 u.ci.host, v6 ? "]" : "", u.ci.ssl ? MGMT_DEFAULT_TLS_PORT : MGMT_DEFAULT_PORT);
		url_amqp_clear(&u);
	} else {
		snprintf(buf, len, "http://127.0.0.1:%d", MGMT_DEFAULT_PORT);
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '/')
		buf[n - 1] = '\0';
}

static long long num(yajl_val obj, const char *key)
{
	const char *path[] = {key, NULL};
	yajl_val v = yajl_tree_get(obj, path, yajl_t_number);

	return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

static int parse_queues(const char *json, struct mgmt_queue **out, size_t *n, char *err,
			size_t errlen)
{
	char why[128];
	yajl_val root = yajl_tree_parse(json, why, sizeof(why));
	struct mgmt_queue *q = NULL;
	size_t count = 0;
	int rc = -1;

	if (!root || !YAJL_IS_ARRAY(root)) {
		snprintf(err, errlen, "the management API answered something else than a list");
		goto out;
	}
	q = calloc(root->u.array.len + 1, sizeof(*q));
	if (!q)
		goto out;
	for (size_t i = 0; i < root->u.array.len; i++) {
		yajl_val item = root->u.array.values[i];
		const char *path[] = {"name", NULL};
		yajl_val name = yajl_tree_get(item, path, yajl_t_string);

		if (!name || !YAJL_IS_STRING(name))
			continue;
		q[count].name = strdup(name->u.string);
		if (!q[count].name)
			goto out;
		q[count].ready = num(item, "messages_ready");
		q[count].unacked = num(item, "messages_unacknowledged");
		q[count].consumers = num(item, "consumers");
		q[count].dlx = num(item, "messages_dlx");
		if (q[count].dlx < 0)
			q[count].dlx = 0;
		count++;
	}
	*out = q;
	*n = count;
	q = NULL;
	rc = 0;
out:
	mgmt_free_queues(q, count);
	yajl_tree_free(root);
	return rc;
}

int mgmt_list_queues(const struct cfg *cfg, const char *broker_url, struct mgmt_queue **out,
		     size_t *n, char *err, size_t errlen)
{
	struct url_amqp u;
	struct body body = {0};
	char base[512], url[1024];
	char why[CURL_ERROR_SIZE] = "";
	bool parsed = url_amqp_parse(broker_url, &u) == 0;
	char *vhost = NULL;
	CURL *easy = NULL;
	CURLcode code;
	long status = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	mgmt_base_url(cfg, broker_url, base, sizeof(base));
	easy = curl_easy_init();
	if (!parsed || !easy) {
		snprintf(err, errlen, "cannot prepare the request");
		goto out;
	}
	vhost = curl_easy_escape(easy, u.ci.vhost, 0);
	if (!vhost)
		goto out;
	snprintf(url, sizeof(url),
		 "%s/api/queues/%s?columns=name,messages_ready,messages_unacknowledged,consumers,messages_dlx",
		 base, vhost);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_USERNAME, u.ci.user);
	curl_easy_setopt(easy, CURLOPT_PASSWORD, u.ci.password);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)MGMT_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, why);
	if (cfg->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
	code = curl_easy_perform(easy);
	if (code != CURLE_OK) {
		/* curl's detail may repeat parts of the URL: no credentials. */
		redact_urls_in(body.too_big ? "answer too large"
			       : why[0]	    ? why
					    : curl_easy_strerror(code),
			       err, errlen);
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !body.data) {
		snprintf(err, errlen, "HTTP %ld", status);
		goto out;
	}
	rc = parse_queues(body.data, out, n, err, errlen);
out:
	curl_free(vhost);
	curl_easy_cleanup(easy);
	url_amqp_clear(&u);
	free(body.data);
	return rc;
}

void mgmt_free_queues(struct mgmt_queue *q, size_t n)
{
	if (!q)
		return;
	for (size_t i = 0; i < n; i++)
		free(q[i].name);
	free(q);
}

const struct mgmt_queue *mgmt_find(const struct mgmt_queue *q, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(q[i].name, name) == 0)
			return &q[i];
	}
	return NULL;
}
