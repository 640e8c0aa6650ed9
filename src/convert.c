/*-------------------------------------------------------------------------
 *
 * convert.c
 *		Decoding Cloudflare's response envelope, and JSON values to Datums.
 *
 * cJSON allocates through palloc (see cf_json_init): a parsed page lives in
 * the memory context of its page and goes away with it, on error paths too.
 * Every value is converted by its column type's own input function.
 *
 *-------------------------------------------------------------------------
 */
#include "cfiam.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

static void *
json_alloc(size_t size)
{
	/* NULL on failure: cJSON then reports a failed parse, not an ERROR mid-parse */
	return palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
json_free(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

void
cf_json_init(void)
{
	cJSON_Hooks hooks = {json_alloc, json_free};

	cJSON_InitHooks(&hooks);
}

/* Shorten a body for an error message. */
static char *
body_excerpt(const CfHttpResponse *response)
{
	int			len = pg_mbcliplen(response->body, (int) Min(response->body_len, 200), 200);
	char	   *s = pnstrdup(response->body, len);

	for (char *p = s; *p; p++)
		if ((unsigned char) *p < 0x20)
			*p = ' ';
	return s;
}

/* A request path short enough for a message (a URL may be 70 kB long). */
static const char *
clip_path(const char *path_and_query)
{
	if (strlen(path_and_query) <= 300)
		return path_and_query;
	return psprintf("%.*s...", pg_mbcliplen(path_and_query, strlen(path_and_query), 300),
					path_and_query);
}

/* The SQLSTATE that fits an HTTP status from the API. */
static int
sqlstate_for_status(long status)
{
	switch (status)
	{
		case 400:
		case 422:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case 401:
		case 403:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case 404:
			return ERRCODE_NO_DATA_FOUND;
		case 409:
			return ERRCODE_UNIQUE_VIOLATION;
		case 429:
			return ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
		default:
			return ERRCODE_FDW_ERROR;
	}
}

/*
 * Parse a response and check its envelope.  Returns the parsed document
 * (its "result" is the caller's); raises Cloudflare's own error otherwise.
 * With not_found non-NULL, a 404 is not an error: *not_found is set.
 */
cJSON *
cf_decode_envelope(const CfHttpResponse *response, const char *method,
				   const char *path_and_query, bool *not_found)
{
	cJSON	   *doc;
	cJSON	   *success;

	if (not_found)
		*not_found = false;
	path_and_query = clip_path(path_and_query);

	doc = cJSON_ParseWithLength(response->body, response->body_len);

	if (response->status == 404 && not_found)
	{
		*not_found = true;
		return doc;
	}

	success = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "success") : NULL;

	if (response->status >= 200 && response->status < 300 && cJSON_IsTrue(success))
		return doc;

	/* An error: Cloudflare's own code and message when the body has them. */
	if (cJSON_IsObject(doc))
	{
		cJSON	   *errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
		cJSON	   *first = cJSON_IsArray(errors) ? cJSON_GetArrayItem(errors, 0) : NULL;
		cJSON	   *code = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "code") : NULL;
		cJSON	   *message = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "message") : NULL;

		if (cJSON_IsNumber(code) && cJSON_IsString(message))
			ereport(ERROR,
					(errcode(response->status >= 200 && response->status < 300 ?
							 ERRCODE_FDW_ERROR : sqlstate_for_status(response->status)),
					 errmsg("Cloudflare API error %d: %s", code->valueint, message->valuestring),
					 errdetail("HTTP %ld from %s %s.", response->status, method, path_and_query)));
	}

	/* never followed: the credential would go wherever Location points */
	if (response->status >= 300 && response->status < 400)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("Cloudflare API answered with a redirect (HTTP %ld), which cfiam does not follow",
						response->status),
				 errdetail("Request: %s %s.", method, path_and_query),
				 errhint("Check the server option api_url: it must name the API itself.")));
	if (response->status >= 200 && response->status < 300)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Cloudflare API returned an answer that is not a successful JSON envelope"),
				 errdetail("HTTP %ld from %s %s; body begins: %s", response->status, method,
						   path_and_query, body_excerpt(response))));
	ereport(ERROR,
			(errcode(sqlstate_for_status(response->status)),
			 errmsg("Cloudflare API returned HTTP %ld", response->status),
			 errdetail("HTTP %ld from %s %s; body begins: %s", response->status, method,
					   path_and_query, body_excerpt(response))));
	return NULL;				/* keep compiler quiet */
}

/* Follow a dotted path ("user.email") through nested objects. */
static cJSON *
json_get_path(cJSON *object, const char *path)
{
	char		part[64];

	while (object && *path)
	{
		size_t		len = strcspn(path, ".");

		if (!cJSON_IsObject(object) || len >= sizeof(part))
			return NULL;
		memcpy(part, path, len);
		part[len] = '\0';
		object = cJSON_GetObjectItemCaseSensitive(object, part);
		path += len;
		if (*path == '.')
			path++;
	}
	return object;
}

/* A string member of an object, or NULL when absent or not a string. */
const char *
cf_json_get_string(cJSON *object, const char *path)
{
	cJSON	   *item = json_get_path(object, path);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* What a JSON value is, with its article, for messages. */
static const char *
json_type_name(cJSON *item)
{
	if (item == NULL)
		return "nothing";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	if (cJSON_IsNull(item))
		return "null";
	return "an invalid value";
}

static void
wrong_json_type(cJSON *item, const CfColumn *col, const char *table_name,
				const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("Cloudflare API returned %s for column \"%s\" of foreign table \"%s\", expected %s",
					json_type_name(item), col->name, table_name, expected)));
}

/* State of the error context callback: which column is being converted. */
typedef struct ConversionContext
{
	const char *table_name;
	const char *column_name;
} ConversionContext;

static void
conversion_error_callback(void *arg)
{
	ConversionContext *cxt = (ConversionContext *) arg;

	if (cxt->column_name)
		errcontext("column \"%s\" of foreign table \"%s\"", cxt->column_name, cxt->table_name);
}

/* {"a","b"}: an array literal for the column type's input function */
static char *
id_list_literal(cJSON *array, ConversionContext *cxt)
{
	StringInfoData buf;
	cJSON	   *item;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	cJSON_ArrayForEach(item, array)
	{
		const char *id = cf_json_get_string(item, "id");

		/* the API has sent both [{"id": ...}] and bare id strings */
		if (id == NULL && cJSON_IsString(item))
			id = item->valuestring;
		if (id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("Cloudflare API returned an element without an \"id\" string for column \"%s\" of foreign table \"%s\"",
							cxt->column_name, cxt->table_name)));
		if (!first)
			appendStringInfoChar(&buf, ',');
		first = false;
		appendStringInfoChar(&buf, '"');
		for (const char *p = id; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, *p);
		}
		appendStringInfoChar(&buf, '"');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Fill values/nulls for one API object.  attr_columns maps each attribute
 * of the foreign table to its catalog column (NULL for a dropped one).
 */
void
cf_object_to_values(const CfResource *res, cJSON *object, const char *parent_id,
					TupleDesc tupdesc, const CfColumn **attr_columns,
					AttInMetadata *attinmeta, Datum *values, bool *nulls,
					const char *table_name)
{
	ConversionContext cxt = {table_name, NULL};
	ErrorContextCallback errcallback;

	if (!cJSON_IsObject(object))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("Cloudflare API returned %s where a %s object was expected",
						json_type_name(object), res->name)));

	errcallback.callback = conversion_error_callback;
	errcallback.arg = &cxt;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		const CfColumn *col = attr_columns[i];
		cJSON	   *item;
		char	   *text = NULL;

		nulls[i] = true;
		values[i] = (Datum) 0;
		if (col == NULL)
			continue;
		cxt.column_name = col->name;

		if (col->json_kind == CF_JSON_PARENT)
			text = (char *) parent_id;
		else
		{
			item = json_get_path(object, col->json_path);
			if ((item == NULL || cJSON_IsNull(item)) && col->json_fallback)
				item = json_get_path(object, col->json_fallback);
			if (item == NULL || cJSON_IsNull(item))
				continue;

			switch (col->json_kind)
			{
				case CF_JSON_STRING:
					if (!cJSON_IsString(item))
						wrong_json_type(item, col, table_name, "a string");
					text = item->valuestring;
					break;
				case CF_JSON_BOOL:
					if (!cJSON_IsBool(item))
						wrong_json_type(item, col, table_name, "a boolean");
					text = cJSON_IsTrue(item) ? "true" : "false";
					break;
				case CF_JSON_ANY:
					text = cJSON_PrintUnformatted(item);
					if (text == NULL)
						ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
					break;
				case CF_JSON_ID_LIST:
					if (!cJSON_IsArray(item))
						wrong_json_type(item, col, table_name, "an array");
					text = id_list_literal(item, &cxt);
					break;
				case CF_JSON_PARENT:
					break;
			}
		}
		if (text == NULL)
			continue;
		/* the API speaks UTF-8; this also rejects invalid byte sequences */
		text = pg_any_to_server(text, strlen(text), PG_UTF8);

		values[i] = InputFunctionCall(&attinmeta->attinfuncs[i], text,
									  attinmeta->attioparams[i],
									  attinmeta->atttypmods[i]);
		nulls[i] = false;
	}

	error_context_stack = errcallback.previous;
}
