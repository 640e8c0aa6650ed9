-- Conversion: each JSON value goes through its column type's input
-- function; a value of the wrong JSON type is an error naming the table and
-- column, and the session goes on.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 2 --account-members 3 --roles 2

-- types as the API sends them
SELECT id, email, status, user_id, first_name, last_name,
       two_factor_authentication_enabled, role_ids, roles -> 0 ->> 'name' AS role,
       policies
FROM cf.account_members ORDER BY email;
SELECT name, permissions FROM cf.roles ORDER BY name;
\! python3 $MOCKCTL log

-- a string where a boolean belongs
\! python3 $MOCKCTL fault patch --field user.two_factor_authentication_enabled --value '"yes"'
SELECT email, two_factor_authentication_enabled FROM cf.account_members;
-- ... but a column that is not selected is not converted
\! python3 $MOCKCTL fault patch --field user.two_factor_authentication_enabled --value '"yes"'
SELECT count(*) FROM (SELECT email FROM cf.account_members) s;
-- a number where a string belongs
\! python3 $MOCKCTL fault patch --field name --value 42
SELECT name FROM cf.user_groups;
-- a time that is not RFC 3339: refused, the message names the column
\! python3 $MOCKCTL fault patch --field created_on --value '"yesterday-ish"'
SELECT name, created_on FROM cf.user_groups;
-- roles that are not objects with an id
\! python3 $MOCKCTL fault patch --field roles --value '[{"name": "no id"}]'
SELECT role_ids FROM cf.account_members;
-- roles given as bare id strings are accepted
\! python3 $MOCKCTL fault patch --field roles --value '["0123456789abcdef0123456789abcdef"]'
SELECT role_ids, roles FROM cf.account_members LIMIT 1;
-- no user object: email falls back to the top-level field, the rest are NULL
\! python3 $MOCKCTL fault patch --field user --value null
SELECT email IS NULL AS no_email, first_name, two_factor_authentication_enabled FROM cf.account_members LIMIT 1;
-- an empty user object: the same
\! python3 $MOCKCTL fault patch --field user --value '{}'
SELECT email FROM cf.account_members ORDER BY email;
-- the session still works
SELECT 1 AS still_working;
SELECT count(*) FROM cf.account_members;
\! python3 $MOCKCTL log

-- a hand-written table may declare other types: the declared type's input
-- function converts (varchar, json, timestamp without time zone)
CREATE FOREIGN TABLE groups_typed (created_on timestamp, name varchar(40), policies json)
  SERVER cloudflare OPTIONS (resource 'user_groups');
SELECT name, created_on, json_typeof(policies) FROM groups_typed;
DROP FOREIGN TABLE groups_typed;
