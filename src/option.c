/*-------------------------------------------------------------------------
 *
 * option.c
 *		Validation and lookup of cfiam's server, user mapping and table options.
 *
 * One static table says which option is valid where; the validator checks
 * every value before it is stored, so a scan never meets a bad option.
 *
 * Some server options are a privilege, not a setting: api_url (other than
 * the default), ca_file and proxy decide where the database server itself
 * connects and which of its files it reads.  A role with USAGE on the
 * wrapper could otherwise point a server of its own at a service that only
 * the database host can reach (http://127.0.0.1:...) and read the start of
 * its answers back in cfiam's error messages.  Only a superuser may set
 * them; see check_superuser_option().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include <arpa/inet.h>
#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#define CF_DEFAULT_API_URL "https://api.cloudflare.com/client/v4"

/* The whole-number options: bounds and defaults, in one place. */
typedef struct CfIntOption
{
	const char *name;
	long		min;
	long		max;
	long		default_value;
} CfIntOption;

static const CfIntOption int_options[] = {
	{"timeout_ms", 1, 3600000, 30000},
	{"connect_timeout_ms", 1, 600000, 5000},
	{"max_retries", 0, 10, 3},
	{"max_concurrency", 1, CF_MAX_CONCURRENCY, CF_DEFAULT_CONCURRENCY},
	{"max_requests_per_second", 0, CF_MAX_REQUESTS_PER_SECOND, CF_DEFAULT_REQUESTS_PER_SECOND},
	{"cache_ttl", 0, 86400, 0},	/* seconds; server or table */
	{NULL, 0, 0, 0}
};

typedef struct CfOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
} CfOption;

static const CfOption valid_options[] = {
	{"account_id", ForeignServerRelationId},
	{"api_url", ForeignServerRelationId},
	{"timeout_ms", ForeignServerRelationId},
	{"connect_timeout_ms", ForeignServerRelationId},
	{"max_retries", ForeignServerRelationId},
	{"max_concurrency", ForeignServerRelationId},
	{"max_requests_per_second", ForeignServerRelationId},
	{"count_pushdown", ForeignServerRelationId},
	{"cache_ttl", ForeignServerRelationId},
	{"skip_forbidden_accounts", ForeignServerRelationId},
	{"ca_file", ForeignServerRelationId},
	{"proxy", ForeignServerRelationId},
	{"fdw_startup_cost", ForeignServerRelationId},
	{"fdw_request_cost", ForeignServerRelationId},
	{"fdw_tuple_cost", ForeignServerRelationId},
	{"api_token", UserMappingRelationId},
	{"api_email", UserMappingRelationId},
	{"api_key", UserMappingRelationId},
	{"resource", ForeignTableRelationId},
	{"account_id", ForeignTableRelationId},
	{"order_pushdown", ForeignTableRelationId},
	{"count_pushdown", ForeignTableRelationId},
	{"cache_ttl", ForeignTableRelationId},
	{"skip_forbidden_accounts", ForeignTableRelationId},
	{"fdw_startup_cost", ForeignTableRelationId},
	{"fdw_request_cost", ForeignTableRelationId},
	{"fdw_tuple_cost", ForeignTableRelationId},
	{NULL, InvalidOid}
};

static bool
is_valid_option(const char *name, Oid context)
{
	for (const CfOption *opt = valid_options; opt->name; opt++)
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return true;
	return false;
}

static const char *
valid_option_names(Oid context)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const CfOption *opt = valid_options; opt->name; opt++)
		if (opt->context == context)
			cf_append_list_item(&buf, opt->name);
	return buf.data;
}

/* A whole-number option within [min, max], or an error naming the bounds. */
static long
parse_long_option(DefElem *def, long min, long max)
{
	char	   *value = defGetString(def);
	char	   *end;
	long		result;

	errno = 0;
	result = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
				 errhint("It must be an integer between %ld and %ld.", min, max)));
	return result;
}

/* The entry of int_options for a name, or NULL. */
static const CfIntOption *
int_option(const char *name)
{
	for (const CfIntOption *opt = int_options; opt->name; opt++)
		if (strcmp(opt->name, name) == 0)
			return opt;
	return NULL;
}

/* A whole-number option's value, within its bounds. */
static long
int_option_value(DefElem *def)
{
	const CfIntOption *opt = int_option(def->defname);

	return parse_long_option(def, opt->min, opt->max);
}

/* A whole-number option's default. */
static long
int_option_default(const char *name)
{
	return int_option(name)->default_value;
}

/* A planner cost: a finite number, zero or more. */
static double
parse_cost_option(DefElem *def)
{
	char	   *value = defGetString(def);
	char	   *end;
	double		result;

	errno = 0;
	result = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !(result >= 0) || isinf(result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, value),
				 errhint("It must be a number, zero or more.")));
	return result;
}

/* fdw_startup_cost, fdw_request_cost, fdw_tuple_cost into opts */
static bool
get_cost_option(DefElem *def, CfTableOptions *opts)
{
	if (strcmp(def->defname, "fdw_startup_cost") == 0)
		opts->startup_cost = parse_cost_option(def);
	else if (strcmp(def->defname, "fdw_request_cost") == 0)
		opts->request_cost = parse_cost_option(def);
	else if (strcmp(def->defname, "fdw_tuple_cost") == 0)
		opts->tuple_cost = parse_cost_option(def);
	else
		return false;
	return true;
}

/*
 * Credentials travel in HTTP headers: a control character (a newline above
 * all) would let a value inject a header of its own.
 */
static void
check_header_value(DefElem *def)
{
	const char *value = defGetString(def);

	if (*value == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must not be empty", def->defname)));
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" contains a control character", def->defname),
					 errdetail("Credentials are sent as HTTP header values, which cannot contain line breaks or other control characters.")));
}

static void
check_account_id(DefElem *def)
{
	if (!cf_is_id(defGetString(def)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"account_id\": \"%s\"", defGetString(def)),
				 errhint("A Cloudflare account id is 32 lowercase hexadecimal characters.")));
}

/*
 * Is the URL's host on the loopback interface?  Plain http would send the
 * API token in clear text, so it is only accepted there.
 */
bool
cf_is_loopback_url(const char *url)
{
	const char *host;
	const char *end;
	char		hostbuf[256];
	size_t		len;
	struct in_addr a4;
	struct in6_addr a6;

	host = strstr(url, "://");
	if (host == NULL)
		return false;
	host += 3;
	if (*host == '[')
	{
		host++;
		end = strchr(host, ']');
	}
	else
		end = host + strcspn(host, ":/?#");
	if (end == NULL || end == host)
		return false;
	len = end - host;
	if (len >= sizeof(hostbuf) || memchr(host, '@', len) != NULL)
		return false;
	memcpy(hostbuf, host, len);
	hostbuf[len] = '\0';

	if (pg_strcasecmp(hostbuf, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, hostbuf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, hostbuf, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/*
 * api_url: https anywhere, plain http only for a loopback host; no user
 * name, password, query or fragment in it.
 */
static void
check_api_url(DefElem *def)
{
	const char *url = defGetString(def);
	bool		https = strncmp(url, "https://", 8) == 0;
	bool		http = strncmp(url, "http://", 7) == 0;
	const char *host = url + (https ? 8 : 7);

	if (!https && !http)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"api_url\": \"%s\"", url),
				 errhint("The URL must start with https:// (or http:// for a loopback host).")));
	if (*host == '\0' || *host == '/' || *host == ':' || strchr(url, '?') || strchr(url, '#') ||
		strpbrk(url, " \t\r\n") || strchr(host, '@'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"api_url\": \"%s\"", url),
				 errhint("Give a base URL such as %s, with no user name, query or fragment.",
						 CF_DEFAULT_API_URL)));
	if (http && !cf_is_loopback_url(url))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"api_url\" must use https for a host that is not loopback"),
				 errdetail("Plain http is accepted only for 127.0.0.0/8, ::1 and localhost, because the API token would travel unencrypted.")));
}

/* Is this api_url the default (but for trailing slashes, which are dropped)? */
static bool
is_default_api_url(const char *url)
{
	size_t		len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		len--;
	return len == strlen(CF_DEFAULT_API_URL) && strncmp(url, CF_DEFAULT_API_URL, len) == 0;
}

/*
 * Refuse a superuser-only server option to anyone else, before its value
 * is validated (a non-superuser learns nothing about files, say).
 *
 * The validator sees the whole option list a server will have, not what
 * one statement changes (as postgres_fdw's does for password_required):
 * a server that carries such an option can be altered only by a superuser,
 * even when the statement leaves that option alone.  The hint says so.
 */
static void
check_superuser_option(DefElem *def, const char *detail)
{
	if (superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to set option \"%s\" of a cfiam server", def->defname),
			 errdetail_internal("%s", detail),
			 errhint("Ask a superuser to create or alter the server. A server that has option \"%s\" can only be altered by a superuser.",
					 def->defname)));
}

/*
 * The egress proxy: http:// or https://, a host name, IPv4 or [IPv6]
 * address, an optional port, nothing else.  No user name or password:
 * server options are readable by every role (pg_foreign_server), so a
 * proxy credential there would be public.  A proxy that wants one is set
 * in the server's environment instead (see docs/security.md).
 */
static void
check_proxy(DefElem *def)
{
	const char *url = defGetString(def);
	bool		https = strncmp(url, "https://", 8) == 0;
	bool		http = strncmp(url, "http://", 7) == 0;
	const char *p = url + (https ? 8 : 7);
	const char *host = p;
	bool		ok = true;

	if (!https && !http)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"proxy\": \"%s\"", url),
				 errhint("The proxy URL must start with http:// or https://.")));
	if (strchr(p, '@'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"proxy\" must not contain a user name or password"),
				 errdetail("Server options are readable by every role, so a credential in them would be public."),
				 errhint("Give the proxy's credentials in the https_proxy environment variable of the database server instead, and leave option \"proxy\" unset.")));

	if (*p == '[')
	{
		const char *end = strchr(p, ']');
		char		addr[INET6_ADDRSTRLEN + 1];
		struct in6_addr a6;

		if (end == NULL || end - p - 1 <= 0 || end - p - 1 >= (long) sizeof(addr))
			ok = false;
		else
		{
			memcpy(addr, p + 1, end - p - 1);
			addr[end - p - 1] = '\0';
			ok = inet_pton(AF_INET6, addr, &a6) == 1;
			p = end + 1;
		}
	}
	else
	{
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_')
			p++;
		ok = p > host && *host != '.' && *host != '-';
	}
	if (ok && *p == ':')
	{
		long		port = 0;
		const char *digits = ++p;

		while (*p >= '0' && *p <= '9' && p - digits < 6)
			port = port * 10 + (*p++ - '0');
		ok = p > digits && port >= 1 && port <= 65535;
	}
	if (ok && *p == '/')
		p++;
	if (!ok || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"proxy\": \"%s\"", url),
				 errhint("Give the proxy as http://host:port or https://host:port, with no path, query or user name.")));
}

PG_FUNCTION_INFO_V1(cfiam_validator);

/*
 * Validate the options given to a cfiam object: unknown names, bad values,
 * and the combinations that must hold (a user mapping exactly one way to
 * authenticate, a table a resource).  A server without account_id covers
 * every account its credential sees.
 */
Datum
cfiam_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		has_token = false,
				has_email = false,
				has_key = false,
				has_resource = false;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (!is_valid_option(def->defname, catalog))
		{
			const char *names = valid_option_names(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 *names ? errhint("Valid options in this context are: %s.", names)
					 : errhint("There are no valid options in this context.")));
		}

		if (strcmp(def->defname, "account_id") == 0)
		{
			check_account_id(def);
		}
		else if (strcmp(def->defname, "api_url") == 0)
		{
			if (!is_default_api_url(defGetString(def)))
				check_superuser_option(def,
									   "Only superusers may set \"api_url\" to a URL other than " CF_DEFAULT_API_URL ": the database server connects there itself.");
			check_api_url(def);
		}
		else if (int_option(def->defname))
		{
			const CfIntOption *opt = int_option(def->defname);

			(void) parse_long_option(def, opt->min, opt->max);
		}
		else if (strcmp(def->defname, "ca_file") == 0)
		{
			check_superuser_option(def,
								   "Only superusers may set \"ca_file\": it names a file on the database server, which the server reads.");
			/* read by the backend, whatever its working directory */
			if (!is_absolute_path(defGetString(def)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"ca_file\" must be an absolute path: \"%s\"",
								defGetString(def)),
						 errdetail("It names a PEM file of CA certificates that verify the API's TLS certificate.")));
		}
		else if (strcmp(def->defname, "proxy") == 0)
		{
			check_superuser_option(def,
								   "Only superusers may set \"proxy\": the database server connects there itself.");
			check_proxy(def);
		}
		else if (strcmp(def->defname, "api_token") == 0)
		{
			check_header_value(def);
			has_token = true;
		}
		else if (strcmp(def->defname, "api_email") == 0)
		{
			check_header_value(def);
			if (strchr(defGetString(def), '@') == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"api_email\" is not an email address")));
			has_email = true;
		}
		else if (strcmp(def->defname, "api_key") == 0)
		{
			check_header_value(def);
			has_key = true;
		}
		else if (strcmp(def->defname, "resource") == 0)
		{
			if (cf_resource_by_name(defGetString(def)) == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"resource\": \"%s\"", defGetString(def)),
						 errhint("Valid resources are: %s.", cf_resource_names())));
			has_resource = true;
		}
		else if (strcmp(def->defname, "order_pushdown") == 0 ||
				 strcmp(def->defname, "count_pushdown") == 0 ||
				 strcmp(def->defname, "skip_forbidden_accounts") == 0)
			(void) defGetBoolean(def);
		else if (strncmp(def->defname, "fdw_", 4) == 0)
			(void) parse_cost_option(def);
	}

	if (catalog == UserMappingRelationId)
	{
		if (has_token && (has_email || has_key))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("give either \"api_token\" or \"api_email\" with \"api_key\", not both")));
		if (!has_token && !(has_email && has_key))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a cfiam user mapping needs \"api_token\", or \"api_email\" and \"api_key\"")));
	}

	if (catalog == ForeignTableRelationId && !has_resource)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"resource\" is required for a cfiam foreign table"),
				 errhint("Valid resources are: %s.", cf_resource_names())));

	PG_RETURN_VOID();
}

/* Server options with their defaults filled in. */
void
cf_get_server_options(ForeignServer *server, CfServerOptions *opts)
{
	ListCell   *lc;

	opts->api_url = CF_DEFAULT_API_URL;
	opts->timeout_ms = int_option_default("timeout_ms");
	opts->connect_timeout_ms = int_option_default("connect_timeout_ms");
	opts->max_retries = (int) int_option_default("max_retries");
	opts->max_concurrency = (int) int_option_default("max_concurrency");
	opts->max_requests_per_second = (int) int_option_default("max_requests_per_second");
	opts->ca_file = NULL;
	opts->proxy = NULL;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		const CfIntOption *opt = int_option(def->defname);
		long		value = opt ? parse_long_option(def, opt->min, opt->max) : 0;

		if (strcmp(def->defname, "api_url") == 0)
			opts->api_url = defGetString(def);
		else if (strcmp(def->defname, "timeout_ms") == 0)
			opts->timeout_ms = value;
		else if (strcmp(def->defname, "connect_timeout_ms") == 0)
			opts->connect_timeout_ms = value;
		else if (strcmp(def->defname, "max_retries") == 0)
			opts->max_retries = (int) value;
		else if (strcmp(def->defname, "max_concurrency") == 0)
			opts->max_concurrency = (int) value;
		else if (strcmp(def->defname, "max_requests_per_second") == 0)
			opts->max_requests_per_second = (int) value;
		else if (strcmp(def->defname, "ca_file") == 0)
			opts->ca_file = defGetString(def);
		else if (strcmp(def->defname, "proxy") == 0)
			opts->proxy = defGetString(def);
	}

	/* Paths are appended to the base: drop a trailing slash. */
	{
		size_t		len = strlen(opts->api_url);
		char	   *url = pstrdup(opts->api_url);

		while (len > 0 && url[len - 1] == '/')
			url[--len] = '\0';
		opts->api_url = url;
	}
}

/* The resource, account and switches of one foreign table. */
void
cf_get_table_options(Oid foreigntableid, CfTableOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->order_pushdown = true;
	opts->count_pushdown = true;
	opts->cache_ttl = (int) int_option_default("cache_ttl");
	opts->startup_cost = CF_DEFAULT_STARTUP_COST;
	opts->request_cost = CF_DEFAULT_REQUEST_COST;
	opts->tuple_cost = CF_DEFAULT_TUPLE_COST;

	/* a table's own setting overrides its server's */
	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "account_id") == 0)
			opts->account_id = defGetString(def);
		else if (strcmp(def->defname, "count_pushdown") == 0)
			opts->count_pushdown = defGetBoolean(def);
		else if (strcmp(def->defname, "cache_ttl") == 0)
			opts->cache_ttl = (int) int_option_value(def);
		else if (strcmp(def->defname, "skip_forbidden_accounts") == 0)
			opts->skip_forbidden_accounts = defGetBoolean(def);
		else
			(void) get_cost_option(def, opts);
	}
	foreach(lc, table->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "resource") == 0)
			opts->resource = cf_resource_by_name(defGetString(def));
		else if (strcmp(def->defname, "account_id") == 0)
			opts->account_id = defGetString(def);
		else if (strcmp(def->defname, "order_pushdown") == 0)
			opts->order_pushdown = defGetBoolean(def);
		else if (strcmp(def->defname, "count_pushdown") == 0)
			opts->count_pushdown = defGetBoolean(def);
		else if (strcmp(def->defname, "cache_ttl") == 0)
			opts->cache_ttl = (int) int_option_value(def);
		else if (strcmp(def->defname, "skip_forbidden_accounts") == 0)
			opts->skip_forbidden_accounts = defGetBoolean(def);
		else
			(void) get_cost_option(def, opts);
	}

	/*
	 * The validator guarantees both; a catalog edited by hand might not.  No
	 * account_id: every account the credential sees (scan.c).
	 */
	if (opts->resource == NULL || (opts->account_id && !cf_is_id(opts->account_id)))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" lacks a valid \"resource\" or \"account_id\" option",
						get_rel_name(foreigntableid))));
}
