/*-------------------------------------------------------------------------
 *
 * convert.c
 *		Decoding Cloudflare's response envelope, and JSON values to Datums.
 *
 * Every value is converted by its column type's own input function.
 *
 * JSON text and memory
 * --------------------
 * Answers are parsed by PostgreSQL's own JSON parser (the one json and
 * jsonb use), which holds them to RFC 8259: cJSON's parser reads text after
 * the value, invalid UTF-8, control characters in strings and invalid
 * escapes, and cuts a string at \u0000, so an answer that is not JSON
 * could become rows.  Its semantic actions build the tree as cJSON nodes,
 * which the rest of cfiam reads with cJSON's functions; a number keeps its
 * text, printed as it came.
 *
 * cfiam installs no cJSON allocation hooks.  cJSON_InitHooks is
 * process-wide: hooks that palloc would hand every other user of libcjson
 * in this backend (another extension, a procedural language's library)
 * memory that a context reset frees under it; hooks that raise an ERROR
 * would longjmp through code that does not expect it; and hooks that
 * return NULL make cJSON drop what it could not allocate without a word
 * (cJSON_AddItemToArray(array, NULL) adds nothing), so a PUT that replaces
 * a group's members could carry fewer than it was asked to.
 *
 * So every node is palloc'd (new_node), in the memory context of its page
 * or row, and goes away with it, on error paths too, however its nodes
 * were relinked or detached in between; running out of memory is palloc's
 * ERROR, never a NULL that shortens a body.  cJSON's allocator (malloc,
 * unless someone else's hooks are in place) is used only inside
 * cf_json_print, which copies cJSON's string into palloc'd memory and
 * frees it.
 *
 * Code holding these trees may read them with any cJSON function and relink
 * nodes (cJSON_DetachItemViaPointer, cJSON_AddItemToArray), but must not
 * call one that allocates or frees nodes (cJSON_Delete, cJSON_Create*,
 * cJSON_Add*ToObject, cJSON_Replace*, cJSON_Duplicate): use the cf_json_*
 * functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* A palloc'd node of the given type, with no value and no links. */
static cJSON *
new_node(int type)
{
	cJSON	   *node = palloc0(sizeof(cJSON));

	node->type = type;
	return node;
}

/* Append a node to an array's or object's children, as cJSON links them. */
static void
link_child(cJSON *parent, cJSON *item)
{
	cJSON	   *first = parent->child;

	Assert(item != NULL && item->next == NULL);
	if (first == NULL)
	{
		parent->child = item;
		item->prev = item;		/* the first child's prev is the last */
	}
	else
	{
		cJSON	   *last = first->prev;

		last->next = item;
		item->prev = last;
		first->prev = item;
	}
}

/*
 * Building a tree from PostgreSQL's JSON parser (pg_parse_json's semantic
 * actions): the text is checked as RFC 8259 JSON by the parser json and
 * jsonb use, and read into palloc'd nodes.
 */
typedef struct JsonBuild
{
	cJSON	   *root;
	cJSON	  **open;			/* the arrays and objects not closed yet */
	int			depth;
	char	   *field;			/* the member name whose value comes next */
	bool		from_server;	/* strings are in the server encoding */
	const char *answer;			/* an answer's request, for the message */
} JsonBuild;

/* UTF-8, which every string in the tree is (the API's and our bodies') */
static char *
build_text(JsonBuild *b, char *s)
{
	return b->from_server ? pg_server_to_any(s, strlen(s), PG_UTF8) : s;
}

static void
build_add(JsonBuild *b, cJSON *node)
{
	if (b->depth == 0)
	{
		b->root = node;
		return;
	}
	if (cJSON_IsObject(b->open[b->depth - 1]))
	{
		node->string = b->field;
		b->field = NULL;
	}
	link_child(b->open[b->depth - 1], node);
}

static void
build_open(JsonBuild *b, int type)
{
	cJSON	   *node = new_node(type);

	/* cJSON's own limit, which code walking a tree may rely on */
	if (b->depth >= CJSON_NESTING_LIMIT)
	{
		if (b->answer)
			ereport(ERROR,
					(errcode(CF_ERRCODE_API_PROTOCOL),
					 errmsg("Cloudflare API returned JSON nested deeper than %d levels",
							CJSON_NESTING_LIMIT),
					 errdetail("Request: %s.", b->answer)));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON value nested deeper than %d levels", CJSON_NESTING_LIMIT)));
	}
	build_add(b, node);
	b->open[b->depth++] = node;
}

static void
build_object_start(void *state)
{
	build_open(state, cJSON_Object);
}

static void
build_array_start(void *state)
{
	build_open(state, cJSON_Array);
}

static void
build_close(void *state)
{
	((JsonBuild *) state)->depth--;
}

static void
build_field(void *state, char *fname, bool isnull)
{
	JsonBuild  *b = state;

	b->field = build_text(b, fname);
}

static void
build_scalar(void *state, char *token, JsonTokenType tokentype)
{
	JsonBuild  *b = state;
	cJSON	   *node;

	switch (tokentype)
	{
		case JSON_TOKEN_STRING:
			node = new_node(cJSON_String);
			node->valuestring = build_text(b, token);
			break;
		case JSON_TOKEN_NUMBER:
			/*
			 * The text is kept and printed as it came (cf_json_print): a
			 * double would change 12345678901234567890 in a jsonb column or
			 * a PUT.  valuedouble and valueint are cJSON's reading of it.
			 */
			node = new_node(cJSON_Number);
			node->valuestring = token;
			node->valuedouble = strtod(token, NULL);
			if (node->valuedouble >= INT_MAX)
				node->valueint = INT_MAX;
			else if (node->valuedouble <= (double) INT_MIN)
				node->valueint = INT_MIN;
			else
				node->valueint = (int) node->valuedouble;
			break;
		case JSON_TOKEN_TRUE:
			node = new_node(cJSON_True);
			node->valueint = 1;
			break;
		case JSON_TOKEN_FALSE:
			node = new_node(cJSON_False);
			break;
		default:
			node = new_node(cJSON_NULL);
			break;
	}
	build_add(b, node);
}

/*
 * Parse JSON text (UTF-8) into palloc'd nodes of the current memory
 * context.  NULL when it is not RFC 8259 JSON, with *why (when why is not
 * NULL) saying what is wrong: invalid UTF-8, a syntax error or data after
 * the value, a lone surrogate, or \u0000 (which neither text nor jsonb can
 * hold, and which cJSON would cut a string at).  A leading byte order mark
 * is skipped, as RFC 8259 allows.  answer, when not NULL, names the request
 * whose answer this is, for the error of JSON nested too deeply.
 */
static cJSON *
parse_json(const char *text, size_t len, const char **why, const char *answer)
{
	JsonBuild	b = {0};
	JsonSemAction sem = {0};
	JsonLexContext *lex;
	JsonParseErrorType rc;
	char	   *input = (char *) text;
	int			encoding = PG_UTF8;

	if (len >= 3 && memcmp(input, "\xEF\xBB\xBF", 3) == 0)
	{
		input += 3;
		len -= 3;
	}
	if (len > (size_t) MaxAllocSize ||
		pg_encoding_verifymbstr(PG_UTF8, input, (int) len) != (int) len)
	{
		if (why)
			*why = "The body is not valid UTF-8.";
		return NULL;
	}

	/*
	 * The parser turns \u escapes into the server encoding: elsewhere than
	 * in a UTF-8 database the whole text is converted first, and each
	 * string back to UTF-8 as it is read.
	 */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *converted = pg_any_to_server(input, (int) len, PG_UTF8);

		if (converted != input)
			len = strlen(converted);
		input = converted;
		encoding = GetDatabaseEncoding();
		b.from_server = true;
	}

	b.open = palloc(sizeof(cJSON *) * CJSON_NESTING_LIMIT);
	b.answer = answer;
	sem.semstate = &b;
	sem.object_start = build_object_start;
	sem.object_end = build_close;
	sem.array_start = build_array_start;
	sem.array_end = build_close;
	sem.object_field_start = build_field;
	sem.scalar = build_scalar;

	lex = makeJsonLexContextCstringLen(input, (int) len, encoding, true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
	{
		if (why)
			*why = json_errdetail(rc, lex);
		return NULL;
	}
	return b.root;
}

cJSON *
cf_json_parse(const char *text, size_t len, const char **why)
{
	return parse_json(text, len, why, NULL);
}

/*
 * Numbers parsed from text are printed as that text: cJSON_Raw nodes for
 * the time of the printing (cJSON would print its double).
 */
static void
numbers_as_text(cJSON *item, bool raw)
{
	check_stack_depth();
	for (; item; item = item->next)
	{
		if (raw && cJSON_IsNumber(item) && item->valuestring)
			item->type = cJSON_Raw;
		else if (!raw && cJSON_IsRaw(item))
			item->type = cJSON_Number;
		numbers_as_text(item->child, raw);
	}
}

/* A tree printed without spaces, palloc'd. */
char *
cf_json_print(const cJSON *item)
{
	char	   *printed;
	char	   *volatile text = NULL;
	cJSON	   *node = unconstify(cJSON *, item);
	cJSON	   *next = node->next;

	/* only this node and its children, not the siblings after it */
	node->next = NULL;
	numbers_as_text(node, true);
	printed = cJSON_PrintUnformatted(item);
	numbers_as_text(node, false);
	node->next = next;

	if (printed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("cJSON could not allocate a JSON text.")));
	/* pstrdup can fail too: free cJSON's copy on the way out either way */
	PG_TRY();
	{
		text = pstrdup(printed);
	}
	PG_FINALLY();
	{
		cJSON_free(printed);
	}
	PG_END_TRY();
	return text;
}

/* Builders of palloc'd trees: they never return NULL. */
cJSON *
cf_json_object(void)
{
	return new_node(cJSON_Object);
}

cJSON *
cf_json_array(void)
{
	return new_node(cJSON_Array);
}

cJSON *
cf_json_string(const char *value)
{
	cJSON	   *node = new_node(cJSON_String);

	node->valuestring = pstrdup(value);
	return node;
}

/*
 * A palloc'd deep copy of a node (its key too), in the current memory
 * context: a tree that must outlive its page (cJSON_Duplicate would malloc
 * it, and nothing would free it).
 */
cJSON *
cf_json_copy(const cJSON *item)
{
	cJSON	   *copy;
	const cJSON *child;

	check_stack_depth();
	copy = new_node(item->type);
	copy->valueint = item->valueint;
	copy->valuedouble = item->valuedouble;
	if (item->valuestring)
		copy->valuestring = pstrdup(item->valuestring);
	if (item->string)
		copy->string = pstrdup(item->string);
	for (child = item->child; child; child = child->next)
		link_child(copy, cf_json_copy(child));
	return copy;
}

/* Append item to an array; returns item. */
cJSON *
cf_json_append(cJSON *array, cJSON *item)
{
	Assert(cJSON_IsArray(array));
	link_child(array, item);
	return item;
}

/* Add item to an object under key; returns item. */
cJSON *
cf_json_add(cJSON *object, const char *key, cJSON *item)
{
	Assert(cJSON_IsObject(object) && item->string == NULL);
	item->string = pstrdup(key);
	link_child(object, item);
	return item;
}

cJSON *
cf_json_add_string(cJSON *object, const char *key, const char *value)
{
	return cf_json_add(object, key, cf_json_string(value));
}

/* Shorten a body for an error message. */
static char *
body_excerpt(const CfHttpResponse *response)
{
	/* up to the first byte that is not UTF-8: a message must be text */
	int			len = pg_encoding_verifymbstr(PG_UTF8, response->body,
											  (int) Min(response->body_len, 200));
	char	   *s = pnstrdup(response->body, len);

	for (char *p = s; *p; p++)
		if ((unsigned char) *p < 0x20)
			*p = ' ';
	return pg_any_to_server(s, strlen(s), PG_UTF8);
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

/* The SQLSTATE that fits an HTTP status from the API (see cfiam.h). */
static int
sqlstate_for_status(long status)
{
	switch (status)
	{
		case 400:
		case 422:
			return CF_ERRCODE_API_REJECTED;
		case 401:
		case 403:
			return CF_ERRCODE_API_FORBIDDEN;
		case 404:
			return CF_ERRCODE_API_NOT_FOUND;
		case 409:
			return CF_ERRCODE_API_CONFLICT;
		case 429:
			return CF_ERRCODE_API_RATE_LIMITED;
		default:
			return CF_ERRCODE_API_FAILED;
	}
}

/*
 * A hint for an API error whose cause is known from the request, or NULL.
 * Cloudflare lists accounts (GET /accounts) to a user's credential only: an
 * account-owned API token gets 400, code 1001 ("List accounts endpoint does
 * not support account owned tokens").  cfiam sends no other value there
 * that a 1001 (an invalid parameter) could be about.
 */
static const char *
api_error_hint(long status, int code, const char *method, const char *path_and_query)
{
	size_t		len = strlen("/accounts");

	if (status == 400 && code == 1001 && strcmp(method, "GET") == 0 &&
		strncmp(path_and_query, "/accounts", len) == 0 &&
		(path_and_query[len] == '\0' || path_and_query[len] == '?'))
		return "An account-owned API token cannot list accounts: give the user mapping a user's API token (api_token), or api_email and api_key.";
	return NULL;
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
	const char *not_json = NULL;

	if (not_found)
		*not_found = false;
	path_and_query = clip_path(path_and_query);

	doc = parse_json(response->body, response->body_len, &not_json,
					 psprintf("%s %s", method, path_and_query));

	if (response->status == 404 && not_found)
	{
		*not_found = true;
		return doc;
	}

	success = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "success") : NULL;

	if (response->status >= 200 && response->status < 300 && cJSON_IsTrue(success))
		return doc;

	/*
	 * An error: Cloudflare's own code and message when the body has them.
	 * Some endpoints (the audit log) give a message without a code.
	 */
	if (cJSON_IsObject(doc))
	{
		cJSON	   *errors = cJSON_GetObjectItemCaseSensitive(doc, "errors");
		cJSON	   *first = cJSON_IsArray(errors) ? cJSON_GetArrayItem(errors, 0) : NULL;
		cJSON	   *code = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "code") : NULL;
		cJSON	   *message = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "message") : NULL;
		int			sqlstate = response->status >= 200 && response->status < 300 ?
			CF_ERRCODE_API_FAILED : sqlstate_for_status(response->status);

		if (cJSON_IsNumber(code) && cJSON_IsString(message))
		{
			const char *hint = api_error_hint(response->status, code->valueint,
											  method, path_and_query);

			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("Cloudflare API error %d: %s", code->valueint, message->valuestring),
					 errdetail("HTTP %ld from %s %s.", response->status, method, path_and_query),
					 hint ? errhint("%s", hint) : 0));
		}
		if (code == NULL && cJSON_IsString(message))
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("Cloudflare API error: %s", message->valuestring),
					 errdetail("HTTP %ld from %s %s.", response->status, method, path_and_query)));
	}

	/* never followed: the credential would go wherever Location points */
	if (response->status >= 300 && response->status < 400)
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_FAILED),
				 errmsg("Cloudflare API answered with a redirect (HTTP %ld), which cfiam does not follow",
						response->status),
				 errdetail("Request: %s %s.", method, path_and_query),
				 errhint("Check the server option api_url: it must name the API itself.")));
	if (response->status >= 200 && response->status < 300 && doc == NULL)
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API returned an answer that is not a successful JSON envelope"),
				 errdetail("HTTP %ld from %s %s: not JSON: %s Body begins: %s", response->status,
						   method, path_and_query, not_json, body_excerpt(response))));
	if (response->status >= 200 && response->status < 300)
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
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

/* Is this a 2xx whose body is the API's envelope with "success": true? */
bool
cf_envelope_success(const CfHttpResponse *response)
{
	cJSON	   *doc;

	if (response->status < 200 || response->status >= 300)
		return false;
	doc = cf_json_parse(response->body, response->body_len, NULL);
	return cJSON_IsObject(doc) &&
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "success"));
}

/*
 * The "result" of a successful envelope; an answer without one is an
 * error, whatever the query needs of it.
 */
cJSON *
cf_envelope_result(cJSON *doc, const char *method, const char *path_and_query)
{
	if (!cJSON_IsObject(doc) || !cJSON_HasObjectItem(doc, "result"))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API answer has no \"result\""),
				 errdetail("Request: %s %s.", method, clip_path(path_and_query))));
	return cJSON_GetObjectItemCaseSensitive(doc, "result");
}

/*
 * The "result" of a listing: an array, or NULL for a null result (the
 * members of an empty group).  Anything else is an error, on every path
 * that reads a listing (scans, count(*), ANALYZE, COMMIT's GET).
 */
cJSON *
cf_list_result(cJSON *doc, const char *path_and_query)
{
	cJSON	   *result = cf_envelope_result(doc, "GET", path_and_query);

	if (cJSON_IsNull(result))
		return NULL;
	if (!cJSON_IsArray(result))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API answer has a \"result\" that is not a list"),
				 errdetail("Request: GET %s.", clip_path(path_and_query))));
	return result;
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
			(errcode(CF_ERRCODE_API_BAD_VALUE),
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
					(errcode(CF_ERRCODE_API_BAD_VALUE),
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

/* n digits at s, as a number; -1 if they are not all digits */
static int
digits_value(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * Is s an RFC 3339 date-time (its section 5.6): 2024-03-01T12:00:00Z, with
 * an optional fraction and Z or an offset such as +05:30?  timestamptz's
 * input takes much more (infinity, epoch, now, 2024-1-1, a time zone's
 * name, years past 9999), which the API never means; it still checks the
 * date (a 13th month, a 30th of February) once the form is right.
 */
static bool
is_rfc3339(const char *s)
{
	const char *p;

	if (strlen(s) < 20 ||
		digits_value(s, 4) < 0 || s[4] != '-' || digits_value(s + 5, 2) < 0 ||
		s[7] != '-' || digits_value(s + 8, 2) < 0 ||
		(s[10] != 'T' && s[10] != 't') ||
		digits_value(s + 11, 2) < 0 || digits_value(s + 11, 2) > 23 || s[13] != ':' ||
		digits_value(s + 14, 2) < 0 || digits_value(s + 14, 2) > 59 || s[16] != ':' ||
		digits_value(s + 17, 2) < 0 || digits_value(s + 17, 2) > 60)
		return false;
	p = s + 19;
	if (*p == '.')
	{
		if (p[1] < '0' || p[1] > '9')
			return false;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	return (*p == '+' || *p == '-') && strlen(p) == 6 &&
		digits_value(p + 1, 2) >= 0 && digits_value(p + 1, 2) <= 23 && p[3] == ':' &&
		digits_value(p + 4, 2) >= 0 && digits_value(p + 4, 2) <= 59;
}

/*
 * Fill values/nulls for one API object.  attr_columns maps each attribute
 * of the foreign table to its catalog column (NULL for a dropped one).
 * parent_id and account_id are those of the call that answered the object
 * (account_id NULL: the column stays null).
 */
void
cf_object_to_values(const CfResource *res, cJSON *object, const char *parent_id,
					const char *account_id, TupleDesc tupdesc, const CfColumn **attr_columns,
					AttInMetadata *attinmeta, Datum *values, bool *nulls,
					const char *table_name)
{
	ConversionContext cxt = {table_name, NULL};
	ErrorContextCallback errcallback;

	if (!cJSON_IsObject(object))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
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
		else if (col->json_kind == CF_JSON_ACCOUNT)
			text = (char *) account_id;
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
				case CF_JSON_NUMBER:
					/* its JSON text: the type's input says if it fits */
					if (!cJSON_IsNumber(item))
						wrong_json_type(item, col, table_name, "a number");
					{
						/* cJSON's double: 200.0 and 2e2 are 200 */
						cJSON		number = *item;

						number.valuestring = NULL;
						number.next = number.prev = NULL;
						text = cf_json_print(&number);
					}
					break;
				case CF_JSON_ANY:
					text = cf_json_print(item);
					break;
				case CF_JSON_ID_LIST:
					if (!cJSON_IsArray(item))
						wrong_json_type(item, col, table_name, "an array");
					text = id_list_literal(item, &cxt);
					break;
				case CF_JSON_PARENT:
				case CF_JSON_ACCOUNT:
					break;
			}
		}
		if (text == NULL)
			continue;
		/* the API speaks UTF-8; this also rejects invalid byte sequences */
		text = pg_any_to_server(text, strlen(text), PG_UTF8);

		if (strcmp(col->sql_type, "timestamptz") == 0 && col->json_kind == CF_JSON_STRING &&
			!is_rfc3339(text))
			ereport(ERROR,
					(errcode(CF_ERRCODE_API_PROTOCOL),
					 errmsg("Cloudflare API returned a time that is not RFC 3339 for column \"%s\" of foreign table \"%s\": \"%s\"",
							col->name, table_name,
							pnstrdup(text, pg_mbcliplen(text, strlen(text), 60)))));

		values[i] = InputFunctionCall(&attinmeta->attinfuncs[i], text,
									  attinmeta->attioparams[i],
									  attinmeta->atttypmods[i]);
		nulls[i] = false;
	}

	error_context_stack = errcallback.previous;
}
