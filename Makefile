# cfiam is built with PGXS against PostgreSQL 15.
MODULE_big = cfiam
OBJS = \
	src/cfiam_fdw.o \
	src/scan.o \
	src/catalog.o \
	src/option.o \
	src/pushdown.o \
	src/http.o \
	src/convert.o \
	src/estimate.o \
	src/analyze.o \
	src/join.o \
	src/modify.o \
	src/functions.o \
	src/cache.o \
	src/usage.o \
	src/limits.o \
	src/deferred.o

EXTENSION = cfiam
# Every released version keeps its full script, unchanged, and every step
# from one version to the next its update script (see CHANGELOG.md).  To
# release version N after version P: cfiam--N.sql is cfiam--P.sql plus the
# changes; cfiam--P--N.sql holds exactly those changes (ALTER EXTENSION
# cfiam UPDATE runs it); default_version in cfiam.control becomes N; both
# files are added here; sql/upgrade.sql (it installs 0.1 and updates it
# through every step) gets checks of the new objects, and its comparison of
# the catalog with a fresh install then covers the new step too;
# CFIAM_VERSION in src/cfiam.h (the User-Agent), META.json and CHANGELOG.md
# get the version (python3 test/check-meta.py checks META.json against
# cfiam.control, DATA and CHANGELOG.md).
DATA = cfiam--0.1.sql cfiam--0.2.sql cfiam--0.3.sql cfiam--0.1--0.2.sql \
	cfiam--0.2--0.3.sql
PGFILEDESC = "cfiam - Cloudflare IAM foreign data wrapper"

SHLIB_LINK = $(shell pkg-config --libs libcurl libcjson)
PG_CPPFLAGS = $(shell pkg-config --cflags libcurl libcjson) -I$(srcdir)/src

# Suites, one per feature; they need the mock API (test/mock_cloudflare.py)
# running, which test/run-tests.sh arranges.
REGRESS = validator import scan_user_groups scan_user_group_members \
	scan_account_members scan_catalog_tables conversion pagination joins \
	prepared errors concurrency pace aggregate write_user_groups \
	write_user_group_members write_account_members security proxy resilience \
	broken_answers analyze join_pushdown cache budget deferred concurrent_sessions account_tokens \
	effective_access audit_logs accounts multi_account upgrade
REGRESS_OPTS = --inputdir=$(srcdir) --load-extension=cfiam

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every file includes the private header: a change to it rebuilds them all
$(OBJS): src/cfiam.h
