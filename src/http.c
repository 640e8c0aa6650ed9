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
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/* Responses larger than this are refused rather than exhausting memory. */
#define CF_MAX_RESPONSE_BYTES (64 * 1024 * 1024)

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
	long		timeout_ms;
	long		connect_timeout_ms;
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
	bool		too_large;
} CfBuffer;

static size_t
write_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	CfBuffer   *buf = (CfBuffer *) userdata;
	size_t		n = size * nmemb;

	if (buf->len + n + 1 > CF_MAX_RESPONSE_BYTES)
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
	conn->invalidated = false;
	conn->server_hashvalue = GetSysCacheHashValue1(FOREIGNSERVEROID,
												   ObjectIdGetDatum(server->serverid));
	conn->mapping_hashvalue = GetSysCacheHashValue1(USERMAPPINGOID,
													ObjectIdGetDatum(user->umid));
	if (conn->base_url == NULL)
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
				 errmsg("Cloudflare API response is larger than %d bytes",
						CF_MAX_RESPONSE_BYTES),
				 errdetail("Request: %s %s.", method, path_and_query)));
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

/*
 * Send one request and return its status and body.  Transport failures are
 * reported here; what the status and body mean is the caller's business.
 */
void
cf_http_request(CfConnection *conn, const char *method,
				const char *path_and_query, const char *body,
				CfHttpResponse *response)
{
	CURL	   *curl = conn->curl;
	CfBuffer	buf = {0};
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;
	struct curl_slist *headers = conn->headers;
	struct curl_slist *body_headers = NULL;
	CURLcode	rc;
	long		status = 0;
	long		connects = 0;

	CHECK_FOR_INTERRUPTS();

	url = psprintf("%s%s", conn->base_url, path_and_query);
	prepare_handle(conn, curl, url, method, errbuf, &buf);

	/*
	 * libcurl silently sends a request again when a reused keep-alive
	 * connection turns out to be closed.  That is harmless for GET, PUT and
	 * DELETE, but a POST that the API did receive would create twice: a POST
	 * always gets a connection of its own.
	 */
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);

	if (body != NULL)
	{
		/* a copy of the header list that adds the content type */
		for (struct curl_slist *h = conn->headers; h; h = h->next)
			body_headers = curl_slist_append(body_headers, h->data);
		body_headers = curl_slist_append(body_headers, "Content-Type: application/json");
		if (body_headers == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		headers = body_headers;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	else if (strcmp(method, "GET") == 0)
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);

	/* Nothing of curl's may outlive this call except the handle itself. */
	if (body_headers)
		curl_slist_free_all(body_headers);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);

	if (rc != CURLE_OK)
		report_transport_error(rc, errbuf, &buf, method, path_and_query);

	response->status = status;
	response->connects = (int) connects;
	take_body(&buf, response);
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
	if (failed_transport >= 0)
	{
		CfTransfer *x = &xfers[failed_transport];

		report_transport_error(x->rc, x->errbuf, &x->buf, "GET", paths[failed_transport]);
	}

	/* an out-of-memory ERROR here must not leak the remaining buffers */
	PG_TRY();
	{
		for (int i = 0; i < n; i++)
		{
			CfTransfer *x = &xfers[i];

			responses[i].status = x->done ? x->status : 0;
			responses[i].connects = (int) x->connects;
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
	return failed_status;
}
