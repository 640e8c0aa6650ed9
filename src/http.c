/*-------------------------------------------------------------------------
 *
 * http.c
 *		The HTTP client: libcurl handles per user mapping, reused.
 *
 * This layer sends requests and hands back status and body; it knows
 * nothing of scans or JSON.  Handles are cached for the life of the backend,
 * keyed by user mapping, so keep-alive connections and TLS sessions survive
 * across pages and statements.  A change to the server or user mapping drops
 * the handles (the credentials or the URL may have changed).
 *
 * Two ways to send: cf_http_request, one request on the mapping's main
 * handle (any method), and cf_http_get_many, a batch of GETs run at most
 * max_concurrency at a time on a multi handle with a small pool of easy
 * handles.  All of them share one connection cache, DNS cache and TLS
 * session cache (a CURLSH), so a connection opened by one is reused by the
 * others; over HTTP/2 the concurrent GETs are multiplexed on one connection.
 *
 * libcurl allocates with malloc, never palloc: an ERROR thrown from inside a
 * curl callback would longjmp through curl.  The response buffer is malloc'd
 * too and copied to palloc memory only after curl has returned.
 *
 *-------------------------------------------------------------------------
 */
#include "cfiam.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "common/pg_prng.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/*
 * cfiam.max_response_size (kB): an answer larger than this is refused with
 * an error rather than exhausting the backend's memory.
 */
static int	cf_max_response_kb = 64 * 1024;

/*
 * Retries: backoff starts at 0.5 s and doubles up to 8 s, with jitter; a
 * Retry-After of the API is honoured up to CF_RETRY_AFTER_MAX_S, and a
 * longer one is an error that says when to come back.
 */
#define CF_BACKOFF_FIRST_MS 500
#define CF_BACKOFF_MAX_MS 8000
#define CF_RETRY_AFTER_MAX_S 60

/* How often a batch wakes up to look for a cancel, at the latest. */
#define CF_POLL_INTERVAL_MS 100

struct CfConnection
{
	Oid			umid;			/* hash key: user mapping OID */
	CURL	   *curl;			/* cf_http_request's handle */
	CURLSH	   *share;			/* connection, DNS and TLS session caches */
	CURLM	   *multi;			/* cf_http_get_many's; NULL until first use */
	CURL	   *pool[CF_MAX_CONCURRENCY];	/* its easy handles, made lazily */
	int			max_concurrency;
	struct curl_slist *headers; /* includes the credential */
	char	   *base_url;		/* malloc'd */
	char	   *ca_file;		/* malloc'd, or NULL */
	char	   *proxy;			/* malloc'd, or NULL */
	long		timeout_ms;
	long		connect_timeout_ms;
	int			max_retries;
	bool		invalidated;	/* server or mapping changed: rebuild */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
};

static HTAB *connection_hash = NULL;

/* Response buffer filled by the write callback (malloc'd). */
typedef struct CfBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* cfiam.max_response_size in bytes */
	bool		too_large;
} CfBuffer;

static size_t
write_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	CfBuffer   *buf = (CfBuffer *) userdata;
	size_t		n = size * nmemb;

	if (buf->len + n + 1 > buf->limit)
	{
		buf->too_large = true;
		return 0;				/* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		cap = buf->cap ? buf->cap : 16384;
		char	   *data;

		while (cap < buf->len + n + 1)
			cap *= 2;
		data = realloc(buf->data, cap);
		if (data == NULL)
			return 0;
		buf->data = data;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/*
 * Called by curl at least once a second during a transfer: a query cancel,
 * statement_timeout or termination aborts the transfer, and the caller then
 * lets CHECK_FOR_INTERRUPTS report it the normal way.
 */
static int
progress_callback(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				  curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

static void
release_connection(CfConnection *conn)
{
	/* easy handles before the share they use, multi before its handles */
	if (conn->multi)
		curl_multi_cleanup(conn->multi);
	conn->multi = NULL;
	for (int i = 0; i < CF_MAX_CONCURRENCY; i++)
	{
		if (conn->pool[i])
			curl_easy_cleanup(conn->pool[i]);
		conn->pool[i] = NULL;
	}
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	if (conn->share)
		curl_share_cleanup(conn->share);
	conn->share = NULL;
	if (conn->headers)
		curl_slist_free_all(conn->headers);
	free(conn->base_url);
	free(conn->ca_file);
	conn->ca_file = NULL;
	free(conn->proxy);
	conn->proxy = NULL;
	conn->curl = NULL;
	conn->headers = NULL;
	conn->base_url = NULL;
}

/* Invalidation: a server or user mapping changed; rebuild affected handles. */
static void
invalidation_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	CfConnection *conn;

	hash_seq_init(&scan, connection_hash);
	while ((conn = (CfConnection *) hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && conn->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && conn->mapping_hashvalue == hashvalue))
			conn->invalidated = true;
	}
}

void
cf_http_init(void)
{
	HASHCTL		ctl;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		elog(ERROR, "could not initialize libcurl");

	DefineCustomIntVariable("cfiam.max_response_size",
							"Largest Cloudflare API answer cfiam accepts.",
							"A larger answer is an error, not an out-of-memory.",
							&cf_max_response_kb,
							64 * 1024, 8, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("cfiam");

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CfConnection);
	connection_hash = hash_create("cfiam connections", 8, &ctl,
								  HASH_ELEM | HASH_BLOBS);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidation_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidation_callback, (Datum) 0);
}

/* Append a header line to a curl list; malloc failure is an ERROR here. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	char	   *line = psprintf("%s: %s", name, value);
	struct curl_slist *result = curl_slist_append(list, line);

	/* wipe our copy of what may be a credential */
	explicit_bzero(line, strlen(line));
	pfree(line);
	if (result == NULL)
	{
		curl_slist_free_all(list);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return result;
}

static void
build_connection(CfConnection *conn, ForeignServer *server, UserMapping *user)
{
	CfServerOptions opts;
	struct curl_slist *headers = NULL;
	const char *token = NULL,
			   *email = NULL,
			   *key = NULL;
	ListCell   *lc;
	CURL	   *curl;

	cf_get_server_options(server, &opts);

	foreach(lc, user->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "api_token") == 0)
			token = defGetString(def);
		else if (strcmp(def->defname, "api_email") == 0)
			email = defGetString(def);
		else if (strcmp(def->defname, "api_key") == 0)
			key = defGetString(def);
	}
	if (token == NULL && (email == NULL || key == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" has no Cloudflare credentials",
						server->servername),
				 errhint("Add OPTIONS (api_token '...') to the user mapping.")));

	headers = add_header(headers, "Accept", "application/json");
	headers = add_header(headers, "User-Agent", "cfiam/" CFIAM_VERSION);
	if (token)
	{
		char	   *bearer = psprintf("Bearer %s", token);

		headers = add_header(headers, "Authorization", bearer);
		explicit_bzero(bearer, strlen(bearer));
		pfree(bearer);
	}
	else
	{
		headers = add_header(headers, "X-Auth-Email", email);
		headers = add_header(headers, "X-Auth-Key", key);
	}

	curl = curl_easy_init();
	if (curl == NULL)
	{
		curl_slist_free_all(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP handle")));
	}

	conn->curl = curl;
	conn->headers = headers;

	/*
	 * One backend is one thread, so the share needs no lock callbacks.
	 * Without it each handle would keep its own connections and the batch
	 * handles would open new ones beside cf_http_request's.
	 */
	conn->share = curl_share_init();
	if (conn->share == NULL ||
		curl_share_setopt(conn->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
		curl_share_setopt(conn->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
		curl_share_setopt(conn->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
	{
		release_connection(conn);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP handle")));
	}
	curl_easy_setopt(curl, CURLOPT_SHARE, conn->share);

	conn->max_concurrency = opts.max_concurrency;
	conn->base_url = strdup(opts.api_url);
	conn->timeout_ms = opts.timeout_ms;
	conn->connect_timeout_ms = opts.connect_timeout_ms;
	conn->max_retries = opts.max_retries;
	conn->ca_file = opts.ca_file ? strdup(opts.ca_file) : NULL;
	conn->proxy = opts.proxy ? strdup(opts.proxy) : NULL;
	conn->invalidated = false;
	conn->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
												   ObjectIdGetDatum(server->serverid));
	conn->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
													ObjectIdGetDatum(user->umid));
	/* a lost proxy copy would send requests around the proxy */
	if (conn->base_url == NULL || (opts.proxy && conn->proxy == NULL))
	{
		release_connection(conn);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
}

/* The cached handle for this user mapping, built or rebuilt as needed. */
CfConnection *
cf_get_connection(ForeignServer *server, UserMapping *user)
{
	CfConnection *conn;
	bool		found;

	conn = hash_search(connection_hash, &user->umid, HASH_ENTER, &found);
	if (!found)
	{
		conn->curl = NULL;
		conn->share = NULL;
		conn->multi = NULL;
		memset(conn->pool, 0, sizeof(conn->pool));
		conn->headers = NULL;
		conn->base_url = NULL;
		conn->ca_file = NULL;
		conn->proxy = NULL;
		conn->invalidated = true;
	}
	if (conn->invalidated || conn->curl == NULL)
	{
		release_connection(conn);
		build_connection(conn, server, user);
	}
	return conn;
}

/* URL-escape one query-string value with curl's own escaping. */
char *
cf_escape(const char *value)
{
	char	   *escaped = curl_easy_escape(NULL, value, 0);
	char	   *result;

	if (escaped == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = pstrdup(escaped);
	curl_free(escaped);
	return result;
}

/* How many GETs cf_http_get_many runs at once on this connection. */
int
cf_http_max_concurrency(CfConnection *conn)
{
	return conn->max_concurrency;
}

/*
 * Set up a handle for one request.  curl_easy_reset keeps the handle's live
 * connections and its share, so keep-alive is not lost.
 */
static void
prepare_handle(CfConnection *conn, CURL *curl, const char *url,
			   const char *method, char *errbuf, CfBuffer *buf)
{
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	buf->limit = (size_t) cf_max_response_kb * 1024;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* Never follow a redirect: it could carry the credential elsewhere. */
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (conn->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, conn->ca_file);
	/* without it, libcurl's proxy environment variables apply */
	if (conn->proxy)
		curl_easy_setopt(curl, CURLOPT_PROXY, conn->proxy);
	/* HTTP/2 when the TLS server offers it (the real API does), else 1.1 */
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, conn->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, conn->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_callback);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_callback);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
}

/*
 * Report a failed transfer.  The buffer is freed first: nothing of curl's
 * may outlive the call.  A cancel is reported as the cancel it is.
 */
static void
report_transport_error(CURLcode rc, const char *errbuf, CfBuffer *buf,
					   const char *method, const char *path_and_query)
{
	bool		too_large = buf->too_large;

	free(buf->data);
	buf->data = NULL;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
	{
		CHECK_FOR_INTERRUPTS();
		/* not reached when an interrupt was pending */
	}
	if (too_large)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Cloudflare API answer is larger than cfiam.max_response_size (%d kB)",
						cf_max_response_kb),
				 errdetail("Request: %s %s.", method, path_and_query),
				 errhint("Raise cfiam.max_response_size, or ask for smaller pages.")));
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		rc == CURLE_COULDNT_RESOLVE_PROXY)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to the Cloudflare API: %s",
						errbuf[0] ? errbuf : curl_easy_strerror(rc)),
				 errdetail("Request: %s %s.", method, path_and_query)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("Cloudflare API request failed: %s",
					errbuf[0] ? errbuf : curl_easy_strerror(rc)),
			 errdetail("Request: %s %s.", method, path_and_query)));
}

/* Move a malloc'd body into palloc memory of the current context. */
static void
take_body(CfBuffer *buf, CfHttpResponse *response)
{
	response->body_len = buf->len;
	response->body = palloc(buf->len + 1);
	if (buf->len > 0)
		memcpy(response->body, buf->data, buf->len);
	response->body[buf->len] = '\0';
	free(buf->data);
	buf->data = NULL;
}

/* ---------------------------------------------------------------------
 * Retries
 * ---------------------------------------------------------------------
 */

/* Did a failed transfer certainly not reach the API (nothing was sent)? */
static bool
transfer_not_sent(CURLcode rc, long request_size)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		rc == CURLE_COULDNT_RESOLVE_PROXY || request_size == 0;
}

/*
 * Why an attempt may be repeated, or NULL when it may not.  GET, PUT and
 * DELETE are safe to repeat; a POST only when it certainly did not reach
 * the API (nothing sent, or a 429, which Cloudflare answers before doing
 * anything): repeating a POST that was carried out would create twice.
 */
static const char *
retry_reason(const char *method, CURLcode rc, long request_size, long status,
			 bool too_large)
{
	bool		idempotent = strcmp(method, "POST") != 0;

	if (rc != CURLE_OK)
	{
		if (rc == CURLE_ABORTED_BY_CALLBACK || too_large ||
			rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
			rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
			rc == CURLE_OUT_OF_MEMORY)
			return NULL;
		if (transfer_not_sent(rc, request_size))
			return "could not connect";
		if (!idempotent)
			return NULL;
		return rc == CURLE_OPERATION_TIMEDOUT ? "timed out" : "connection failed";
	}
	if (status == 429)
		return "rate limited (HTTP 429)";
	if (idempotent && (status >= 500 || status == 408))
		return status == 408 ? "HTTP 408" : "server error (HTTP 5xx)";
	return NULL;
}

/*
 * Wait before a retry: Retry-After when the API gave one, else 0.5 s doubling
 * per attempt up to 8 s, with jitter so that many backends do not come back
 * at once.  The wait is on the backend's latch, so a cancel, a
 * statement_timeout or a termination ends it at once.
 */
static void
retry_wait(int attempt, long retry_after_s, const char *method,
		   const char *path_and_query, const char *reason, int max_retries)
{
	long		wait_ms;
	TimestampTz end;

	if (retry_after_s > 0)
		wait_ms = retry_after_s * 1000;
	else
	{
		long		base = CF_BACKOFF_FIRST_MS << Min(attempt, 8);

		base = Min(base, CF_BACKOFF_MAX_MS);
		wait_ms = base / 2 + (long) (pg_prng_double(&pg_global_prng_state) * (base / 2));
	}
	elog(DEBUG1, "cfiam: %s %s: %s; retry %d of %d in %ld ms",
		 method, path_and_query, reason, attempt + 1, max_retries, wait_ms);

	end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* A Retry-After longer than cfiam waits: say when to come back. */
static void
report_retry_after(long retry_after_s, long status, const char *method,
				   const char *path_and_query)
{
	TimestampTz when = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   retry_after_s * 1000);

	ereport(ERROR,
			(errcode(status == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED : ERRCODE_FDW_ERROR),
			 errmsg("Cloudflare API asks to retry after %ld seconds, longer than cfiam waits (%d s)",
					retry_after_s, CF_RETRY_AFTER_MAX_S),
			 errdetail("HTTP %ld from %s %s.", status, method, path_and_query),
			 errhint("Try again after %s.", timestamptz_to_str(when))));
}

/*
 * Send one request and return its status and body, retrying what is safe to
 * retry (see retry_reason) up to the server's max_retries.  Transport
 * failures are reported here; what the status and body mean is the
 * caller's business.
 */
void
cf_http_request(CfConnection *conn, const char *method,
				const char *path_and_query, const char *body,
				CfHttpResponse *response)
{
	CURL	   *curl = conn->curl;
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;
	struct curl_slist *headers = conn->headers;
	struct curl_slist *body_headers = NULL;
	bool		is_post = strcmp(method, "POST") == 0;

	CHECK_FOR_INTERRUPTS();

	url = psprintf("%s%s", conn->base_url, path_and_query);
	if (body != NULL)
	{
		/* a copy of the header list that adds the content type */
		for (struct curl_slist *h = conn->headers; h; h = h->next)
			body_headers = curl_slist_append(body_headers, h->data);
		body_headers = curl_slist_append(body_headers, "Content-Type: application/json");
		if (body_headers == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		headers = body_headers;
	}
	response->connects = 0;
	response->retries = 0;

	for (int attempt = 0;; attempt++)
	{
		CfBuffer	buf = {0};
		CURLcode	rc;
		long		status = 0;
		long		connects = 0;
		long		request_size = 0;
		curl_off_t	retry_after = -1;
		const char *reason;

		prepare_handle(conn, curl, url, method, errbuf, &buf);

		/*
		 * libcurl silently sends a request again when a reused keep-alive
		 * connection turns out to be closed.  That is harmless for GET, PUT
		 * and DELETE, but a POST that the API did receive would create twice:
		 * a POST always gets a connection of its own.
		 */
		if (is_post)
			curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
		if (body != NULL)
		{
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		}
		else if (strcmp(method, "GET") == 0)
			curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

		rc = curl_easy_perform(curl);
		if (rc == CURLE_OK)
		{
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
			/* seconds, from either form of the header (libcurl parses dates) */
			curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after);
		}
		curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
		curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
		response->connects += (int) connects;

		reason = retry_reason(method, rc, request_size, status, buf.too_large);
		if (reason != NULL && retry_after > CF_RETRY_AFTER_MAX_S)
		{
			free(buf.data);
			if (body_headers)
				curl_slist_free_all(body_headers);
			report_retry_after((long) retry_after, status, method, path_and_query);
		}
		if (reason != NULL && attempt < conn->max_retries)
		{
			free(buf.data);
			/* the wait may end in a cancel: nothing of curl's may be left */
			PG_TRY();
			{
				retry_wait(attempt, (long) retry_after, method, path_and_query, reason,
						   conn->max_retries);
			}
			PG_CATCH();
			{
				if (body_headers)
					curl_slist_free_all(body_headers);
				PG_RE_THROW();
			}
			PG_END_TRY();
			response->retries++;
			continue;
		}

		/* the final attempt */
		if (body_headers)
			curl_slist_free_all(body_headers);
		if (rc != CURLE_OK && is_post && !transfer_not_sent(rc, request_size) &&
			rc != CURLE_ABORTED_BY_CALLBACK && !buf.too_large)
		{
			free(buf.data);
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
					 errmsg("outcome of POST %s is unknown: %s", path_and_query,
							errbuf[0] ? errbuf : curl_easy_strerror(rc)),
					 errdetail("The request was sent but no answer came back, so Cloudflare may or may not have carried it out. cfiam never sends a POST twice."),
					 errhint("Check with a SELECT (by name or email) whether it was applied before running the statement again.")));
		}
		if (rc != CURLE_OK)
			report_transport_error(rc, errbuf, &buf, method, path_and_query);

		response->status = status;
		take_body(&buf, response);
		break;
	}
	pfree(url);
}

/* One transfer of a batch. */
typedef struct CfTransfer
{
	char	   *url;
	CURL	   *curl;			/* pool handle while in flight, else NULL */
	CfBuffer	buf;
	char		errbuf[CURL_ERROR_SIZE];
	CURLcode	rc;
	long		status;
	long		connects;
	long		request_size;
	bool		done;
} CfTransfer;

/* A failed status stops a batch; 404 does not (a GET by id: no such row). */
static bool
status_is_failure(long status)
{
	return (status < 200 || status >= 300) && status != 404;
}

/*
 * GET every path of paths[0..n-1], at most max_concurrency at once, in the
 * order given (later ones start as earlier ones finish).  Fills responses[i]
 * (palloc'd in the current context) and returns -1 when all answered with a
 * 2xx or a 404.  When one answers another status, the transfers still in
 * flight are abandoned (their status is left 0, body NULL) and its index is
 * returned: the caller decodes that response into its error.  A transport
 * failure is reported here, as cf_http_request reports it, after every
 * transfer of the batch has been stopped.  A cancel is noticed within
 * CF_POLL_INTERVAL_MS.  Handles and connections stay usable afterwards.
 */
int
cf_http_get_many(CfConnection *conn, char *const *paths, int n,
				 CfHttpResponse *responses)
{
	CfTransfer *xfers;
	int			next = 0;		/* next transfer to start */
	int			in_flight = 0;
	int			failed_status = -1;
	int			failed_transport = -1;
	bool		canceled = false;
	bool		retry_rest = false;
	bool	   *redo;

	CHECK_FOR_INTERRUPTS();
	if (n <= 0)
		return -1;

	if (conn->multi == NULL)
	{
		conn->multi = curl_multi_init();
		if (conn->multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create an HTTP handle")));
		/* HTTP/2: several GETs share one connection when the server allows */
		curl_multi_setopt(conn->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	}
	for (int i = 0; i < conn->max_concurrency; i++)
	{
		if (conn->pool[i] == NULL)
		{
			conn->pool[i] = curl_easy_init();
			if (conn->pool[i] == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("could not create an HTTP handle")));
			curl_easy_setopt(conn->pool[i], CURLOPT_SHARE, conn->share);
		}
	}

	/* everything that can fail with an ERROR is done before curl starts */
	xfers = palloc0(sizeof(CfTransfer) * n);
	for (int i = 0; i < n; i++)
		xfers[i].url = psprintf("%s%s", conn->base_url, paths[i]);

	/*
	 * From here to the end of the cleanup nothing may throw: transfers in
	 * flight and malloc'd buffers must be released before any ereport.
	 */
	for (;;)
	{
		int			running;
		CURLMsg    *msg;
		int			queued;

		/* start transfers up to the limit, in the order given */
		while (next < n && in_flight < conn->max_concurrency &&
			   failed_status < 0 && failed_transport < 0)
		{
			CfTransfer *x = &xfers[next];
			CURL	   *curl = NULL;

			for (int i = 0; i < conn->max_concurrency && curl == NULL; i++)
			{
				bool		busy = false;

				for (int j = 0; j < next && !busy; j++)
					busy = (xfers[j].curl == conn->pool[i]);
				if (!busy)
					curl = conn->pool[i];
			}
			Assert(curl != NULL);
			prepare_handle(conn, curl, x->url, "GET", x->errbuf, &x->buf);
			curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, conn->headers);
			/* wait for a connection that may multiplex rather than open one */
			curl_easy_setopt(curl, CURLOPT_PIPEWAIT, 1L);
			curl_easy_setopt(curl, CURLOPT_PRIVATE, (void *) x);
			if (curl_multi_add_handle(conn->multi, curl) != CURLM_OK)
			{
				x->rc = CURLE_OUT_OF_MEMORY;
				failed_transport = next;
				break;
			}
			x->curl = curl;
			in_flight++;
			next++;
		}
		if (in_flight == 0 || failed_status >= 0 || failed_transport >= 0)
			break;

		curl_multi_perform(conn->multi, &running);
		while ((msg = curl_multi_info_read(conn->multi, &queued)) != NULL)
		{
			CfTransfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
			x->rc = msg->data.result;
			if (x->rc == CURLE_OK)
				curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
			curl_easy_getinfo(x->curl, CURLINFO_NUM_CONNECTS, &x->connects);
			curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &x->request_size);
			curl_multi_remove_handle(conn->multi, x->curl);
			curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, NULL);
			x->curl = NULL;
			x->done = true;
			in_flight--;
			if (x->rc != CURLE_OK && failed_transport < 0)
				failed_transport = x - xfers;
			else if (x->rc == CURLE_OK && status_is_failure(x->status) && failed_status < 0)
				failed_status = x - xfers;
		}
		if (failed_status >= 0 || failed_transport >= 0)
			break;
		if (QueryCancelPending || ProcDiePending)
		{
			canceled = true;
			break;
		}
		if (in_flight > 0)
			curl_multi_poll(conn->multi, NULL, 0, CF_POLL_INTERVAL_MS, NULL);
	}

	/* stop what is still in flight; its connection is closed, not reused */
	for (int i = 0; i < n; i++)
	{
		CfTransfer *x = &xfers[i];

		if (x->curl)
		{
			curl_multi_remove_handle(conn->multi, x->curl);
			curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, NULL);
			x->curl = NULL;
		}
		if (!x->done || (failed_transport >= 0 && i != failed_transport) || canceled)
		{
			free(x->buf.data);
			x->buf.data = NULL;
			x->buf.len = 0;
		}
	}

	if (canceled)
	{
		CHECK_FOR_INTERRUPTS();
		/* a pending interrupt that does not throw (e.g. held off): go on */
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling statement due to user request")));
	}
	/*
	 * A failure that may be retried: what answered is kept, and the failed
	 * transfer and those stopped with it are sent again one at a time by
	 * cf_http_request, which retries.
	 */
	if (failed_transport >= 0)
	{
		CfTransfer *x = &xfers[failed_transport];

		if (conn->max_retries == 0 ||
			retry_reason("GET", x->rc, x->request_size, 0, x->buf.too_large) == NULL)
			report_transport_error(x->rc, x->errbuf, &x->buf, "GET", paths[failed_transport]);
		free(x->buf.data);
		x->buf.data = NULL;
		x->done = false;
		retry_rest = true;
	}
	if (failed_status >= 0 && conn->max_retries > 0 &&
		retry_reason("GET", CURLE_OK, 1, xfers[failed_status].status, false) != NULL)
	{
		CfTransfer *x = &xfers[failed_status];

		free(x->buf.data);
		x->buf.data = NULL;
		x->done = false;
		failed_status = -1;
		retry_rest = true;
	}
	redo = palloc0(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		redo[i] = retry_rest && !xfers[i].done;

	/* an out-of-memory ERROR here must not leak the remaining buffers */
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			CfTransfer *x = &xfers[i];

			responses[i].status = x->done ? x->status : 0;
			responses[i].connects = (int) x->connects;
			responses[i].retries = 0;
			responses[i].body = NULL;
			responses[i].body_len = 0;
			if (x->buf.data)
				take_body(&x->buf, &responses[i]);
			pfree(x->url);
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
			free(xfers[i].buf.data);
	}
	PG_END_TRY();
	pfree(xfers);

	for (int i = 0; i < n; i++)
	{
		if (!redo[i])
			continue;
		cf_http_request(conn, "GET", paths[i], NULL, &responses[i]);
		responses[i].retries++;
		if (status_is_failure(responses[i].status))
			return i;
	}
	pfree(redo);
	return failed_status;
}
