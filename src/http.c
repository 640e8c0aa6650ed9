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
 * max_concurrency at a time on a multi handle, each transfer on an easy
 * handle of its own.  All of them share one connection cache, DNS cache and
 * TLS session cache (a CURLSH), so a connection opened by one is reused by
 * the others; over HTTP/2 the concurrent GETs are multiplexed on one
 * connection.  Whether a failed attempt is sent again is decided in one
 * place, decide_retry, for both.
 *
 * While a transfer runs, the backend shows wait event "Extension" in
 * pg_stat_activity, so a DBA can tell a slow API from a slow query.
 *
 * libcurl allocates with malloc, never palloc: an ERROR thrown from inside a
 * curl callback would longjmp through curl.  The response buffer is malloc'd
 * too and copied to palloc memory only after curl has returned.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "pgstat.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "common/hashfn.h"

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

/*
 * Every request waits for the pace of its API host and takes its place in
 * its credential's rate-limit window first (limits.c).
 */

struct CfConnection
{
	Oid			umid;			/* hash key: user mapping OID */
	Oid			serverid;		/* for the usage statistics and rate limit */
	Oid			userid;			/* InvalidOid: a PUBLIC mapping */
	CURL	   *curl;			/* cf_http_request's handle */
	CURLSH	   *share;			/* connection, DNS and TLS session caches */
	CURLM	   *multi;			/* cf_http_get_many's; NULL until first use */
	int			max_concurrency;
	struct curl_slist *headers; /* includes the credential */
	char	   *base_url;		/* malloc'd */
	char	   *ca_file;		/* malloc'd, or NULL */
	char	   *proxy;			/* malloc'd, or NULL */
	long		timeout_ms;
	long		connect_timeout_ms;
	int			max_retries;
	long		start_interval_us;	/* 1 s / max_requests_per_second; 0: none */
	char		pace_host[128];	/* the API host, whose pace it follows */
	uint64		window_key;		/* its credential's rate-limit window */
	int			prepaid;		/* requests reserved ahead (cf_http_prepay) */
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

/* Free a buffer's data and make it empty, ready for another attempt. */
static void
buffer_reset(CfBuffer *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->too_large = false;
}

/*
 * curl's body callback: append to the malloc'd buffer, refusing (and so
 * ending the transfer) past cfiam.max_response_size.
 */
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
 * lets CHECK_FOR_INTERRUPTS report it the normal way.  Only when the
 * interrupt can be serviced now: otherwise CHECK_FOR_INTERRUPTS would not
 * throw and the transfer would have been cut short for nothing.
 */
static int
progress_callback(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				  curl_off_t ultotal, curl_off_t ulnow)
{
	return ((QueryCancelPending || ProcDiePending) &&
			INTERRUPTS_CAN_BE_PROCESSED()) ? 1 : 0;
}

/* Free a connection's curl handles and headers, in the order curl needs. */
static void
release_connection(CfConnection *conn)
{
	/* easy handles before the share they use, multi before its handles */
	if (conn->multi)
		curl_multi_cleanup(conn->multi);
	conn->multi = NULL;
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

/*
 * At the end of a transaction no request is reserved ahead any more
 * (limits.c gives the reservations themselves back).
 */
static void
http_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	CfConnection *conn;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	hash_seq_init(&scan, connection_hash);
	while ((conn = (CfConnection *) hash_seq_search(&scan)) != NULL)
		conn->prepaid = 0;
}

/* Once per backend: libcurl's global state and the connection cache. */
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
	RegisterXactCallback(http_xact_callback, NULL);
}

/* Append a line to a curl list; malloc failure is an ERROR here. */
static struct curl_slist *
add_header_line(struct curl_slist *list, const char *line)
{
	struct curl_slist *result = curl_slist_append(list, line);

	if (result == NULL)
	{
		curl_slist_free_all(list);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	return result;
}

/* Append "name: value", wiping our copy: the value may be a credential. */
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

/*
 * Set up a connection for a server and user mapping: the main handle with
 * its options and credentials, and the server's limits.
 */
/*
 * "host:port" of an API URL, which the pace of request starts is kept for
 * (Cloudflare's per-IP limit is the API host's); the URL itself when curl
 * cannot parse it (the request then fails on its own).
 */
static void
api_host(const char *url, char *host, size_t size)
{
	CURLU	   *u = curl_url();
	char	   *h = NULL;
	char	   *port = NULL;

	strlcpy(host, url, size);
	if (u == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		snprintf(host, size, "%s:%s", h, port);
	curl_free(h);
	curl_free(port);
	curl_url_cleanup(u);
}

/*
 * The key of a credential's rate-limit window (limits.c): the API URL and
 * the credential, hashed, so that every role and mapping using the same key
 * counts in one window and the key itself is kept nowhere.
 */
static uint64
credential_key(const char *url, const char *token, const char *email, const char *key)
{
	StringInfoData buf;
	uint64		h;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s%c%s%c%s%c%s", url, 0, token ? token : "", 0,
					 email ? email : "", 0, key ? key : "");
	h = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0);
	explicit_bzero(buf.data, buf.len);
	pfree(buf.data);
	return h;
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
	conn->start_interval_us = opts.max_requests_per_second > 0 ?
		1000000L / opts.max_requests_per_second : 0;
	conn->ca_file = opts.ca_file ? strdup(opts.ca_file) : NULL;
	conn->proxy = opts.proxy ? strdup(opts.proxy) : NULL;
	api_host(opts.api_url, conn->pace_host, sizeof(conn->pace_host));
	conn->window_key = credential_key(opts.api_url, token, email, key);
	conn->prepaid = 0;
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
		conn->headers = NULL;
		conn->base_url = NULL;
		conn->ca_file = NULL;
		conn->prepaid = 0;
		conn->proxy = NULL;
		conn->invalidated = true;
	}
	conn->serverid = server->serverid;
	conn->userid = user->userid;
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

/* ---------------------------------------------------------------------
 * Setting up a transfer
 * ---------------------------------------------------------------------
 */

/*
 * Set up a handle for one request.  The caller has just made the handle or
 * reset it (curl_easy_reset keeps its share, so keep-alive is not lost).
 * Returns false when libcurl refused an option that correctness depends on.
 */
static bool
prepare_handle(CfConnection *conn, CURL *curl, const char *url,
			   const char *method, char *errbuf, CfBuffer *buf)
{
	bool		ok = true;

	errbuf[0] = '\0';
	buf->limit = (size_t) cf_max_response_kb * 1024;

	/*
	 * libcurl 7.88's HTTP/2 code pauses the whole connection when one
	 * stream's receive buffer (16 kB by default) fills, and then does not
	 * process the data of the other streams it has already read from the
	 * socket until something else drives the connection: multiplexed
	 * batches stalled until timeout_ms, or handed back empty bodies.  A
	 * buffer as large as libcurl allows holds any page whole, so no stream
	 * pauses.  libcurl refuses the option once the handle has a buffer
	 * (after a multiplexed transfer it keeps one), which is why a batch
	 * uses a new handle per transfer; the buffer is malloc'd per transfer
	 * and only what arrives is touched.
	 */
	ok &= curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, (long) CURL_MAX_READ_SIZE) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_SHARE, conn->share) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_URL, url) == CURLE_OK;
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	ok &= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
	ok &= curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	/* Never follow a redirect: it could carry the credential elsewhere. */
	ok &= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	if (conn->ca_file)
		ok &= curl_easy_setopt(curl, CURLOPT_CAINFO, conn->ca_file) == CURLE_OK;

	/*
	 * The proxy option is authoritative: with it, NO_PROXY in the server's
	 * environment does not send requests around it.  Without it, libcurl's
	 * proxy environment variables of the server process apply.
	 */
	if (conn->proxy)
	{
		ok &= curl_easy_setopt(curl, CURLOPT_PROXY, conn->proxy) == CURLE_OK;
		ok &= curl_easy_setopt(curl, CURLOPT_NOPROXY, "") == CURLE_OK;
	}
	/* HTTP/2 when the TLS server offers it (the real API does), else 1.1 */
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	ok &= curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, conn->timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, conn->connect_timeout_ms) == CURLE_OK;
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	ok &= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_callback) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress_callback) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
	return ok;
}

/* The protocol a finished transfer spoke, for EXPLAIN ANALYZE. */
static const char *
transfer_protocol(CURL *curl)
{
	long		version = 0;

	if (curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version) != CURLE_OK)
		return NULL;
	switch (version)
	{
		case CURL_HTTP_VERSION_1_0:
			return "HTTP/1.0";
		case CURL_HTTP_VERSION_1_1:
			return "HTTP/1.1";
		case CURL_HTTP_VERSION_2_0:
			return "HTTP/2";
		default:
			return NULL;
	}
}

/*
 * Report a failed transfer.  The buffer is freed first: nothing of curl's
 * may outlive the call.
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
		/*
		 * The progress callback aborts only when the interrupt can be
		 * serviced, so this normally throws the cancel or the termination.
		 * If the interrupt turned out to need no error, the transfer was
		 * still cut short: say so, without claiming a cancel.
		 */
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_FAILED),
				 errmsg("Cloudflare API request was interrupted"),
				 errdetail("Request: %s %s.", method, path_and_query)));
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
				(errcode(CF_ERRCODE_API_UNREACHABLE),
				 errmsg("could not connect to the Cloudflare API: %s",
						errbuf[0] ? errbuf : curl_easy_strerror(rc)),
				 errdetail("Request: %s %s.", method, path_and_query)));
	ereport(ERROR,
			(errcode(CF_ERRCODE_API_FAILED),
			 errmsg("Cloudflare API request failed: %s",
					errbuf[0] ? errbuf : curl_easy_strerror(rc)),
			 errdetail("Request: %s %s.", method, path_and_query)));
}

/*
 * Move a malloc'd body into palloc memory of the current context.  The
 * malloc'd copy is freed even when the palloc fails.
 */
static void
take_body(CfBuffer *buf, CfHttpResponse *response)
{
	char	   *data = buf->data;
	size_t		len = buf->len;

	buf->data = NULL;
	buf->len = 0;
	PG_TRY();
	{
		response->body = palloc(len + 1);
	}
	PG_CATCH();
	{
		free(data);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (len > 0)
		memcpy(response->body, data, len);
	response->body[len] = '\0';
	response->body_len = len;
	free(data);
}

/* ---------------------------------------------------------------------
 * Retries: the one place that decides whether an attempt is repeated
 * ---------------------------------------------------------------------
 */

/* What one attempt gave, as far as the retry decision needs it. */
typedef struct CfAttempt
{
	CURLcode	rc;
	long		status;			/* 0 unless rc == CURLE_OK */
	long		request_size;	/* bytes sent: 0 means nothing reached the API */
	bool		too_large;
	curl_off_t	retry_after;	/* seconds, -1 when the API gave none */
	TimestampTz sent_at;		/* when it started: orders its Ratelimit */
} CfAttempt;

typedef enum CfRetryDecision
{
	CF_FINAL,					/* hand the attempt to the caller as it is */
	CF_RETRY,					/* send it again after *wait_ms */
	CF_RETRY_TOO_LATE			/* retryable, but Retry-After is too long */
} CfRetryDecision;

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
retry_reason(const char *method, const CfAttempt *a)
{
	bool		idempotent = strcmp(method, "POST") != 0;

	if (a->rc != CURLE_OK)
	{
		if (a->rc == CURLE_ABORTED_BY_CALLBACK || a->too_large ||
			a->rc == CURLE_PEER_FAILED_VERIFICATION || a->rc == CURLE_SSL_CACERT_BADFILE ||
			a->rc == CURLE_UNSUPPORTED_PROTOCOL || a->rc == CURLE_URL_MALFORMAT ||
			a->rc == CURLE_OUT_OF_MEMORY)
			return NULL;
		if (transfer_not_sent(a->rc, a->request_size))
			return "could not connect";
		if (!idempotent)
			return NULL;
		return a->rc == CURLE_OPERATION_TIMEDOUT ? "timed out" : "connection failed";
	}
	if (a->status == 429)
		return "rate limited (HTTP 429)";
	if (idempotent && (a->status >= 500 || a->status == 408))
		return a->status == 408 ? "HTTP 408" : "server error (HTTP 5xx)";
	return NULL;
}

/*
 * Decide what follows attempt number `attempt` (0 for the first) of a
 * request.  For CF_RETRY, *wait_ms is how long to wait first: Retry-After
 * when the API gave one, else 0.5 s doubling per attempt up to 8 s, with
 * jitter so that many backends do not come back at once.
 */
static CfRetryDecision
decide_retry(CfConnection *conn, const char *method, const char *path_and_query,
			 const CfAttempt *a, int attempt, long *wait_ms)
{
	const char *reason = retry_reason(method, a);

	if (reason == NULL)
		return CF_FINAL;
	if (a->retry_after > CF_RETRY_AFTER_MAX_S)
		return CF_RETRY_TOO_LATE;
	if (attempt >= conn->max_retries)
		return CF_FINAL;

	if (a->retry_after > 0)
		*wait_ms = (long) a->retry_after * 1000;
	else
	{
		long		base = CF_BACKOFF_FIRST_MS << Min(attempt, 8);

		base = Min(base, CF_BACKOFF_MAX_MS);
		*wait_ms = base / 2 + (long) (pg_prng_double(&pg_global_prng_state) * (base / 2));
	}
	elog(DEBUG1, "cfiam: %s %s: %s; retry %d of %d in %ld ms",
		 method, path_and_query, reason, attempt + 1, conn->max_retries, *wait_ms);
	return CF_RETRY;
}

/* A Retry-After longer than cfiam waits: say when to come back. */
static void
report_retry_after(long retry_after_s, long status, const char *method,
				   const char *path_and_query)
{
	TimestampTz when = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   retry_after_s * 1000);

	ereport(ERROR,
			(errcode(status == 429 ? CF_ERRCODE_API_RATE_LIMITED : CF_ERRCODE_API_FAILED),
			 errmsg("Cloudflare API asks to retry after %ld seconds, longer than cfiam waits (%d s)",
					retry_after_s, CF_RETRY_AFTER_MAX_S),
			 errdetail("HTTP %ld from %s %s.", status, method, path_and_query),
			 errhint("Try again after %s.", timestamptz_to_str(when))));
}

/* ---------------------------------------------------------------------
 * One request
 * ---------------------------------------------------------------------
 */

/* A copy of the mapping's header list plus the body's content type. */
static struct curl_slist *
body_header_list(CfConnection *conn)
{
	struct curl_slist *list = NULL;

	for (struct curl_slist *h = conn->headers; h; h = h->next)
		list = add_header_line(list, h->data);
	return add_header_line(list, "Content-Type: application/json");
}

/* ---------------------------------------------------------------------
 * What each attempt spends (see usage.c)
 * ---------------------------------------------------------------------
 */

/*
 * May one attempt start now?  The statement's budget may refuse it (not a
 * retry: the request it repeats was let through already), its credential's
 * window may refuse it or say to wait (the window's first request is in
 * flight), and the host's pace may say to wait.  True: it is the
 * statement's and has its place in the window; false: *wait_ms first.
 */
static bool
try_start(CfConnection *conn, bool retry, const char *method, const char *path,
		  long *wait_ms)
{
	bool		prepaid = conn->prepaid > 0;

	if (!retry && !prepaid)
		cf_budget_check(1, psprintf("next: %s %.200s", method, path));
	if (prepaid)
		conn->prepaid--;
	else if (!cf_window_try_take(conn->window_key, 1, wait_ms))
		return false;
	if (!cf_pace_try(conn->pace_host, conn->start_interval_us, wait_ms))
	{
		/* its place in the window is given back until it may start */
		if (prepaid)
			conn->prepaid++;
		else
			cf_window_release(conn->window_key, 1);
		return false;
	}
	cf_budget_spend(1);
	return true;
}

/* Wait until one attempt may start (see try_start). */
static void
wait_to_start(CfConnection *conn, bool retry, const char *method, const char *path)
{
	long		wait_ms = 0;

	while (!try_start(conn, retry, method, path, &wait_ms))
		cf_limits_sleep(wait_ms);
}

/*
 * A statement is about to need n more requests (a listing's pages, a
 * fan-out's listings, a batch): refuse them now if the statement's budget
 * or the credential's reserve cannot take them all.
 */
void
cf_http_reserve(CfConnection *conn, int64 n, const char *what)
{
	cf_budget_check(n, what);
	/* reserved ahead (a COMMIT's plan): already counted in the window */
	if (conn->prepaid < n)
		cf_window_check(conn->window_key, n);
}

/*
 * Reserve n requests in the credential's window now, for calls that must
 * not be refused half-way (a COMMIT's): they are sent without asking the
 * window again.  cf_http_prepay_end gives back what was not sent.
 */
void
cf_http_prepay(CfConnection *conn, int n)
{
	cf_window_take(conn->window_key, n);
	conn->prepaid += n;
}

void
cf_http_prepay_end(CfConnection *conn)
{
	cf_window_release(conn->window_key, conn->prepaid);
	conn->prepaid = 0;
}

/* The number after key (";r=") in one item of the header, or -1. */
static long
ratelimit_field(const char *item, const char *key)
{
	const char *p = strstr(item, key);
	char	   *end;
	long		v;

	if (p == NULL)
		return -1;
	errno = 0;
	v = strtol(p + strlen(key), &end, 10);
	if (errno != 0 || end == p + strlen(key) || v < 0 || v > INT_MAX ||
		(*end != '\0' && *end != ';' && *end != ' '))
		return -1;
	return v;
}

/*
 * Ratelimit: "default";r=50;t=30 (or several such items, comma-separated):
 * the item with the fewest requests left.  False if no item is well formed.
 */
static bool
parse_ratelimit(const char *value, int *remaining, int *reset_s)
{
	char	   *copy = pstrdup(value);
	char	   *save = NULL;
	bool		found = false;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		long		r = ratelimit_field(item, ";r=");
		long		t = ratelimit_field(item, ";t=");

		if (r >= 0 && t >= 0 && (!found || r < *remaining))
		{
			*remaining = (int) r;
			*reset_s = (int) t;
			found = true;
		}
	}
	pfree(copy);
	return found;
}

/*
 * Cloudflare's error code 10100 ("More than N requests per M seconds
 * reached") in an answer: the credential's window is spent, and every call
 * is refused until it resets.
 */
static bool
window_spent_answer(const CfBuffer *buf)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool spent = false;

	if (buf->data == NULL || buf->len == 0)
		return false;

	/*
	 * The parser raises an error for JSON nested too deeply; here, between
	 * a request's reservation in the window and its answer, a body that
	 * cannot be read only tells nothing.  Parsing takes no resource but
	 * memory, so the error is dropped without a subtransaction.
	 */
	PG_TRY();
	{
		cJSON	   *doc = cf_json_parse(buf->data, buf->len, NULL);
		cJSON	   *error = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "errors"), 0);
		cJSON	   *code = cJSON_GetObjectItemCaseSensitive(error, "code");

		spent = cJSON_IsNumber(code) && code->valuedouble == 10100;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
	}
	PG_END_TRY();
	return spent;
}

/*
 * Count one finished attempt (sent, failed or not, bytes received) and give
 * its place in the credential's window back with what Cloudflare's
 * Ratelimit header says is left (a malformed or missing header tells
 * nothing).  A 429 of the spent window blocks the credential for its
 * Retry-After, or until the window resets.
 */
static void
account_attempt(CfConnection *conn, CURL *curl, const CfAttempt *a,
				const CfBuffer *buf, bool failed)
{
	CfUsageDelta d = {0};
	struct curl_header *h = NULL;
	int			remaining = -1;
	int			reset_s = 0;
	bool		heard;
	long		block_s = 0;

	d.requests = 1;
	d.errors = failed ? 1 : 0;
	d.bytes_received = buf->len;
	d.window_key = conn->window_key;
	cf_usage_count(conn->serverid, &d);

	heard = a->rc == CURLE_OK &&
		curl_easy_header(curl, "Ratelimit", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h &&
		parse_ratelimit(h->value, &remaining, &reset_s);
	if (a->rc == CURLE_OK && a->status == 429 &&
		((heard && remaining == 0) || window_spent_answer(buf)))
		block_s = a->retry_after > 0 ? (long) a->retry_after : (heard ? reset_s : 0);
	cf_window_answered(conn->window_key, a->sent_at, a->rc == CURLE_OK, heard,
					   remaining, reset_s, block_s);
}

/* A failed attempt: no answer, or a status other than 2xx (404 aside). */
static bool
attempt_failed(const CfAttempt *a)
{
	return a->rc != CURLE_OK || ((a->status < 200 || a->status >= 300) && a->status != 404);
}

/*
 * One attempt of a request on the mapping's own handle.  Fills *a and
 * leaves the answer in *buf (malloc'd).
 */
static void
perform_once(CfConnection *conn, const char *method, const char *url,
			 const char *body, struct curl_slist *headers, bool retry,
			 char *errbuf, CfBuffer *buf, CfAttempt *a, CfHttpResponse *response)
{
	CURL	   *curl = conn->curl;
	long		connects = 0;
	bool		ok;

	curl_easy_reset(curl);
	ok = prepare_handle(conn, curl, url, method, errbuf, buf);

	/*
	 * libcurl silently sends a request again when a reused keep-alive
	 * connection turns out to be closed.  That is harmless for GET, PUT and
	 * DELETE, but a POST that the API did receive would create twice: a
	 * POST always gets a connection of its own.
	 */
	if (strcmp(method, "POST") == 0)
		ok &= curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK;
	if (body != NULL)
	{
		ok &= curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) == CURLE_OK;
		ok &= curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body)) == CURLE_OK;
	}
	else if (strcmp(method, "GET") == 0)
		ok &= curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK;

	memset(a, 0, sizeof(*a));
	a->retry_after = -1;
	if (!ok)
	{
		a->rc = CURLE_OUT_OF_MEMORY;
		return;
	}

	wait_to_start(conn, retry, method, url + strlen(conn->base_url));
	a->sent_at = GetCurrentTimestamp();
	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	a->rc = curl_easy_perform(curl);
	pgstat_report_wait_end();

	if (a->rc == CURLE_OK)
	{
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
		/* seconds, from either form of the header (libcurl parses dates) */
		curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &a->retry_after);
		response->protocol = transfer_protocol(curl);
	}
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &a->request_size);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	a->too_large = buf->too_large;
	response->connects += (int) connects;
	account_attempt(conn, curl, a, buf, attempt_failed(a));
}

/*
 * Send one request and return its status and body, retrying what is safe to
 * retry (see decide_retry) up to the server's max_retries.  Transport
 * failures are reported here; what the status and body mean is the
 * caller's business.
 */
void
cf_http_request(CfConnection *conn, const char *method,
				const char *path_and_query, const char *body,
				CfHttpResponse *response)
{
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;
	struct curl_slist *volatile body_headers = NULL;

	CHECK_FOR_INTERRUPTS();

	url = psprintf("%s%s", conn->base_url, path_and_query);
	if (body != NULL)
		body_headers = body_header_list(conn);
	memset(response, 0, sizeof(*response));

	PG_TRY();
	{
		for (int attempt = 0;; attempt++)
		{
			CfBuffer	buf = {0};
			CfAttempt	a;
			long		wait_ms = 0;

			perform_once(conn, method, url, body,
						 body_headers ? body_headers : conn->headers, attempt > 0,
						 errbuf, &buf, &a, response);

			switch (decide_retry(conn, method, path_and_query, &a, attempt, &wait_ms))
			{
				case CF_RETRY:
					{
						CfUsageDelta d = {.retries = 1};

						free(buf.data);
						cf_usage_count(conn->serverid, &d);
						cf_limits_sleep(wait_ms);
						response->retries++;
						continue;
					}
				case CF_RETRY_TOO_LATE:
					free(buf.data);
					report_retry_after((long) a.retry_after, a.status, method, path_and_query);
					break;
				case CF_FINAL:
					break;
			}

			if (a.rc != CURLE_OK && strcmp(method, "POST") == 0 &&
				!transfer_not_sent(a.rc, a.request_size) &&
				a.rc != CURLE_ABORTED_BY_CALLBACK && !a.too_large)
			{
				free(buf.data);
				ereport(ERROR,
						(errcode(CF_ERRCODE_OUTCOME_UNKNOWN),
						 errmsg("outcome of POST %s is unknown: %s", path_and_query,
								errbuf[0] ? errbuf : curl_easy_strerror(a.rc)),
						 errdetail("The request was sent but no answer came back, so Cloudflare may or may not have carried it out. cfiam never sends a POST twice."),
						 errhint("Check with a SELECT (by name or email) whether it was applied before running the statement again.")));
			}
			if (a.rc != CURLE_OK)
				report_transport_error(a.rc, errbuf, &buf, method, path_and_query);

			response->status = a.status;
			take_body(&buf, response);
			break;
		}
	}
	PG_FINALLY();
	{
		if (body_headers)
			curl_slist_free_all(body_headers);
		/* a write may have been applied whatever happened: drop what it changed */
		if (strcmp(method, "GET") != 0)
			cf_cache_invalidate_account(path_and_query);
	}
	PG_END_TRY();
	pfree(url);
}

/* ---------------------------------------------------------------------
 * A batch of GETs
 * ---------------------------------------------------------------------
 */

typedef enum CfTransferState
{
	XFER_QUEUED,				/* not started yet */
	XFER_RUNNING,				/* on the multi handle */
	XFER_WAITING,				/* failed, to be sent again at not_before */
	XFER_DONE					/* answered: status and body kept */
} CfTransferState;

/* One GET of a batch, across its attempts. */
typedef struct CfTransfer
{
	const char *method;			/* GET, or DELETE (safe to repeat) */
	const char *path;			/* path and query, for messages */
	char	   *url;
	CfTransferState state;
	CURL	   *curl;			/* a handle of its own while running */
	CfBuffer	buf;			/* malloc'd answer of the current attempt */
	char		errbuf[CURL_ERROR_SIZE];
	CfAttempt	last;			/* outcome of the latest attempt */
	int			attempts;		/* started so far */
	TimestampTz not_before;		/* XFER_WAITING: when to send it again */
	TimestampTz sent_at;		/* when the current attempt started */
	int			connects;
	const char *protocol;
} CfTransfer;

/* How a batch ended, when not with every transfer answered. */
typedef struct CfBatchFailure
{
	int			index;			/* the transfer, or -1 */
	CfRetryDecision decision;	/* CF_FINAL: its last attempt is the error */
} CfBatchFailure;

/* A failed status stops a batch; 404 does not (a GET by id: no such row). */
static bool
status_is_failure(long status)
{
	return (status < 200 || status >= 300) && status != 404;
}

/* Make the multi handle on first use. */
static void
ensure_multi(CfConnection *conn)
{
	if (conn->multi != NULL)
		return;
	conn->multi = curl_multi_init();
	if (conn->multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create an HTTP handle")));
	/* HTTP/2: several GETs share one connection when the server allows */
	curl_multi_setopt(conn->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	/* over HTTP/1.1, keep as many idle connections as run at once */
	curl_multi_setopt(conn->multi, CURLMOPT_MAXCONNECTS, (long) CF_MAX_CONCURRENCY + 1);
}

/*
 * Detach a transfer's handle and free it; its answer stays in x->buf.  One
 * still in flight is abandoned: it may have reached the API, so its place
 * in the window counts as spent.
 */
static void
release_transfer_handle(CfConnection *conn, CfTransfer *x)
{
	if (x->curl == NULL)
		return;
	if (x->state == XFER_RUNNING)
	{
		x->state = XFER_QUEUED;
		cf_window_answered(conn->window_key, x->sent_at, false, false, -1, 0, 0);
	}
	curl_multi_remove_handle(conn->multi, x->curl);
	curl_easy_cleanup(x->curl);
	x->curl = NULL;
}

/*
 * Start one attempt of a transfer on a new handle (try_start let it);
 * false if curl refused.
 */
static bool
start_transfer(CfConnection *conn, CfTransfer *x)
{
	CURL	   *curl = curl_easy_init();
	bool		ok;

	if (curl == NULL)
		return false;
	buffer_reset(&x->buf);
	ok = prepare_handle(conn, curl, x->url, x->method, x->errbuf, &x->buf);
	if (strcmp(x->method, "GET") == 0)
		ok &= curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, conn->headers) == CURLE_OK;
	/* wait for a connection that may multiplex rather than open one */
	curl_easy_setopt(curl, CURLOPT_PIPEWAIT, 1L);
	ok &= curl_easy_setopt(curl, CURLOPT_PRIVATE, (void *) x) == CURLE_OK;
	if (!ok || curl_multi_add_handle(conn->multi, curl) != CURLM_OK)
	{
		curl_easy_cleanup(curl);
		return false;
	}
	x->curl = curl;
	x->state = XFER_RUNNING;
	x->attempts++;
	x->sent_at = GetCurrentTimestamp();
	return true;
}

/*
 * A transfer finished: record its outcome and decide, in decide_retry,
 * whether it is done, waits to be sent again (alone: the others of the
 * batch go on and keep their answers), or ends the batch.
 */
static CfRetryDecision
finish_transfer(CfConnection *conn, CfTransfer *x, CURLcode rc)
{
	long		connects = 0;
	long		wait_ms = 0;
	CfRetryDecision decision;

	memset(&x->last, 0, sizeof(x->last));
	x->last.rc = rc;
	x->last.retry_after = -1;
	x->last.sent_at = x->sent_at;
	if (rc == CURLE_OK)
	{
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->last.status);
		curl_easy_getinfo(x->curl, CURLINFO_RETRY_AFTER, &x->last.retry_after);
		x->protocol = transfer_protocol(x->curl);
	}
	curl_easy_getinfo(x->curl, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &x->last.request_size);
	x->last.too_large = x->buf.too_large;
	x->connects += (int) connects;
	account_attempt(conn, x->curl, &x->last, &x->buf,
					rc != CURLE_OK || status_is_failure(x->last.status));
	x->state = XFER_DONE;		/* answered: not abandoned (decided below) */
	release_transfer_handle(conn, x);

	decision = decide_retry(conn, x->method, x->path, &x->last, x->attempts - 1, &wait_ms);
	if (decision == CF_RETRY)
	{
		CfUsageDelta d = {.retries = 1};

		cf_usage_count(conn->serverid, &d);
		buffer_reset(&x->buf);
		x->state = XFER_WAITING;
		x->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
		return CF_RETRY;
	}
	x->state = XFER_DONE;
	return decision;
}

/*
 * Run the batch until every transfer is done or one ends it.  At most
 * max_concurrency run at once, started in the order given.  Fills *failure
 * when one ends the batch: a transport failure or a status that may not be
 * retried (other than 404), or a Retry-After longer than cfiam waits.
 * A cancel throws from CHECK_FOR_INTERRUPTS; the caller cleans up.
 */
static void
run_transfers(CfConnection *conn, CfTransfer *xfers, int n, CfBatchFailure *failure)
{
	int			next = 0;		/* first transfer never started */
	int			running = 0;
	int			waiting = 0;
	int			done = 0;

	while (done < n)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		timeout_ms = CF_POLL_INTERVAL_MS;
		long		wait_ms = CF_POLL_INTERVAL_MS;
		bool		blocked = false;	/* the pace or the window says wait */
		int			still_running;
		int			queued;
		int			finished = 0;
		CURLMsg    *msg;

		CHECK_FOR_INTERRUPTS();

		/* retries whose wait is over go first, then new transfers */
		for (int i = 0; i < next && waiting > 0 && running < conn->max_concurrency &&
			 !blocked; i++)
		{
			CfTransfer *x = &xfers[i];

			if (x->state != XFER_WAITING)
				continue;
			if (x->not_before > now)
			{
				timeout_ms = Min(timeout_ms,
								 Max(1, TimestampDifferenceMilliseconds(now, x->not_before)));
				continue;
			}
			if (!try_start(conn, true, x->method, x->path, &wait_ms))
			{
				blocked = true;
				break;
			}
			if (!start_transfer(conn, x))
				goto out_of_memory;
			waiting--;
			running++;
		}
		while (next < n && running < conn->max_concurrency && !blocked)
		{
			if (!try_start(conn, false, xfers[next].method, xfers[next].path, &wait_ms))
			{
				blocked = true;
				break;
			}
			if (!start_transfer(conn, &xfers[next]))
				goto out_of_memory;
			next++;
			running++;
		}
		if (blocked)
			timeout_ms = Min(timeout_ms, wait_ms);

		if (running > 0)
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			curl_multi_perform(conn->multi, &still_running);
			pgstat_report_wait_end();
		}
		while ((msg = curl_multi_info_read(conn->multi, &queued)) != NULL)
		{
			CfTransfer *x = NULL;
			CfRetryDecision decision;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
			decision = finish_transfer(conn, x, msg->data.result);
			running--;
			finished++;
			if (decision == CF_RETRY)
			{
				waiting++;
				continue;
			}
			done++;
			if (decision == CF_RETRY_TOO_LATE || x->last.rc != CURLE_OK ||
				status_is_failure(x->last.status))
			{
				failure->index = x - xfers;
				failure->decision = decision;
				return;
			}
		}
		if (finished > 0)
			continue;			/* fill the freed slots before waiting */
		if (done < n && running > 0)
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			curl_multi_poll(conn->multi, NULL, 0, (int) timeout_ms, NULL);
			pgstat_report_wait_end();
		}
		else if (done < n)
			cf_limits_sleep(timeout_ms);	/* only retries or the pace waiting */
	}
	return;

out_of_memory:
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("could not create an HTTP handle")));
}

/*
 * GET every path of paths[0..n-1], at most max_concurrency at once, in the
 * order given (later ones start as earlier ones finish).  Fills responses[i]
 * (palloc'd in the current context) and returns -1 when all answered with a
 * 2xx or a 404.  A transfer that fails in a way that may be retried is sent
 * again on its own, after its backoff, while the rest of the batch goes on;
 * an answer once received is kept and never asked for again.  When one
 * answers a status that is not retried, the transfers still in flight are
 * abandoned (their status is left 0, body NULL) and its index is returned:
 * the caller decodes that response into its error.  A transport failure is
 * reported here, as cf_http_request reports it, after every transfer of the
 * batch has been stopped.  A cancel is noticed within CF_POLL_INTERVAL_MS.
 */
static int
send_many_uncached(CfConnection *conn, const char *method, char *const *paths, int n,
				   CfHttpResponse *responses)
{
	CfTransfer *xfers;
	CfBatchFailure failure = {-1, CF_FINAL};

	CHECK_FOR_INTERRUPTS();
	if (n <= 0)
		return -1;
	/* the whole batch is refused before any of it is sent */
	cf_http_reserve(conn, n, psprintf("next: a batch of %d %ss, the first %s %.200s",
									  n, method, method, paths[0]));
	ensure_multi(conn);

	xfers = palloc0(sizeof(CfTransfer) * n);
	for (int i = 0; i < n; i++)
	{
		xfers[i].method = method;
		xfers[i].path = paths[i];
		xfers[i].url = psprintf("%s%s", conn->base_url, paths[i]);
	}

	/* whatever throws, no handle stays on the multi and no buffer leaks */
	PG_TRY();
	{
		run_transfers(conn, xfers, n, &failure);
	}
	PG_CATCH();
	{
		for (int i = 0; i < n; i++)
		{
			release_transfer_handle(conn, &xfers[i]);
			free(xfers[i].buf.data);
		}
		pgstat_report_wait_end();
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* stop what is still in flight; its stream or connection is dropped */
	for (int i = 0; i < n; i++)
	{
		release_transfer_handle(conn, &xfers[i]);
		if (xfers[i].state != XFER_DONE)
		{
			free(xfers[i].buf.data);
			xfers[i].buf.data = NULL;
		}
	}

	if (failure.index >= 0)
	{
		CfTransfer *x = &xfers[failure.index];

		if (failure.decision == CF_RETRY_TOO_LATE || x->last.rc != CURLE_OK)
		{
			for (int i = 0; i < n; i++)
				if (i != failure.index)
					free(xfers[i].buf.data);
			if (failure.decision == CF_RETRY_TOO_LATE)
			{
				free(x->buf.data);
				report_retry_after((long) x->last.retry_after, x->last.status, method, x->path);
			}
			report_transport_error(x->last.rc, x->errbuf, &x->buf, method, x->path);
		}
	}

	/* hand the answers over; an out-of-memory here leaks no buffer */
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			CfTransfer *x = &xfers[i];

			memset(&responses[i], 0, sizeof(CfHttpResponse));
			responses[i].connects = x->connects;
			responses[i].retries = Max(x->attempts - 1, 0);
			responses[i].protocol = x->protocol;
			if (x->state == XFER_DONE)
			{
				responses[i].status = x->last.status;
				take_body(&x->buf, &responses[i]);
			}
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
			free(xfers[i].buf.data);
	}
	PG_END_TRY();

	for (int i = 0; i < n; i++)
		pfree(xfers[i].url);
	pfree(xfers);
	return failure.index;
}

/* ---------------------------------------------------------------------
 * GETs through the result cache (cache.c)
 * ---------------------------------------------------------------------
 */

/* The cached answer for a path, as a response; false if none. */
static bool
cache_lookup(CfConnection *conn, const char *path, CfHttpResponse *response)
{
	char	   *url = psprintf("%s%s", conn->base_url, path);
	char	   *body;
	size_t		len;
	bool		hit = cf_cache_get(conn->umid, conn->window_key, url, &body, &len);

	pfree(url);
	if (!hit)
		return false;
	memset(response, 0, sizeof(*response));
	response->status = 200;
	response->body = body;
	response->body_len = len;
	response->cached = true;
	{
		CfUsageDelta d = {.cache_hits = 1};

		cf_usage_count(conn->serverid, &d);
	}
	return true;
}

/* Keep a 200 answer for cache_ttl seconds (epoch: see cf_cache_put). */
static void
cache_store(CfConnection *conn, const char *path, const CfHttpResponse *response,
			int cache_ttl, uint64 epoch)
{
	char	   *url;

	if (cache_ttl <= 0 || response->status != 200 || response->body == NULL)
		return;
	url = psprintf("%s%s", conn->base_url, path);
	cf_cache_put(conn->umid, conn->window_key, url, path, response->body,
				 response->body_len, cache_ttl, epoch);
	pfree(url);
}

/*
 * One GET, answered from the cache when cache_ttl > 0 and an answer of no
 * more than that age is there; else sent (cf_http_request) and kept.
 */
void
cf_http_get(CfConnection *conn, const char *path_and_query, int cache_ttl,
			CfHttpResponse *response)
{
	uint64		epoch;

	if (cache_ttl > 0 && cache_lookup(conn, path_and_query, response))
		return;
	epoch = cache_ttl > 0 ? cf_cache_epoch() : 0;
	cf_http_request(conn, "GET", path_and_query, NULL, response);
	cache_store(conn, path_and_query, response, cache_ttl, epoch);
}

/*
 * A batch of GETs, run at most max_concurrency at a time; the ones the cache
 * answers are not sent.  Returns the index of the GET whose answer ended
 * the batch (its status and body are in responses[i]), or -1.
 */
int
cf_http_get_many(CfConnection *conn, char *const *paths, int n,
				 CfHttpResponse *responses, int cache_ttl)
{
	char	  **miss_paths;
	int		   *miss_index;
	CfHttpResponse *miss_responses;
	int			nmiss = 0;
	int			failed;
	uint64		epoch;

	if (cache_ttl <= 0)
		return send_many_uncached(conn, "GET", paths, n, responses);

	miss_paths = palloc(sizeof(char *) * Max(n, 1));
	miss_index = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (cache_lookup(conn, paths[i], &responses[i]))
			continue;
		miss_paths[nmiss] = paths[i];
		miss_index[nmiss++] = i;
	}
	if (nmiss == 0)
		return -1;
	miss_responses = palloc0(sizeof(CfHttpResponse) * nmiss);
	epoch = cf_cache_epoch();
	failed = send_many_uncached(conn, "GET", miss_paths, nmiss, miss_responses);
	for (int j = 0; j < nmiss; j++)
	{
		responses[miss_index[j]] = miss_responses[j];
		if (j != failed)
			cache_store(conn, miss_paths[j], &miss_responses[j], cache_ttl, epoch);
	}
	return failed >= 0 ? miss_index[failed] : -1;
}

/*
 * DELETE every path of paths[0..n-1], at most max_concurrency in flight at
 * once, as a batch of GETs is run (a DELETE is safe to repeat: see
 * decide_retry).  Returns the index of the DELETE whose answer ended the
 * batch, or -1; responses[i] of the DELETEs still in flight then have
 * status 0: whether they were carried out is not known.
 */
int
cf_http_delete_many(CfConnection *conn, char *const *paths, int n,
					CfHttpResponse *responses)
{
	int			failed;

	PG_TRY();
	{
		failed = send_many_uncached(conn, "DELETE", paths, n, responses);
	}
	PG_FINALLY();
	{
		/* whatever was carried out: drop what it changed */
		if (n > 0)
			cf_cache_invalidate_account(paths[0]);
	}
	PG_END_TRY();
	return failed;
}
