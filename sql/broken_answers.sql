-- broken_answers: an answer that is not what the API promises is an ERROR,
-- never rows that hold less or other than it says; and a write whose
-- values cfiam cannot send is refused before anything is sent.  Each case
-- is one the fuzzer (test/fuzz.py) found accepted; the request log shows
-- what was sent.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset
SELECT id AS g FROM cf.user_groups ORDER BY name LIMIT 1 \gset
SELECT id AS m FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY id LIMIT 1 \gset
SELECT id AS t1 FROM cf.account_tokens WHERE name LIKE 'CI deploy%' \gset
\! python3 $MOCKCTL clear-log

-- Not RFC 8259 JSON, though cJSON read each: the error says what is wrong.
-- \u0000 in a string (cJSON cut the id there: "abc" became the row)
\! python3 $MOCKCTL fault raw --value '{"success":true,"errors":[],"messages":[],"result":[{"id":"abc\u0000def","name":"x"}]}'
SELECT id FROM cf.roles;
\echo :SQLSTATE
-- data after the document
\! python3 $MOCKCTL fault raw --value '{"success":true,"errors":[],"messages":[],"result":[]} {"result":[{"id":"x"}]}'
SELECT id FROM cf.roles;
-- a lone surrogate, as an escape and as its raw bytes (invalid UTF-8)
\! python3 $MOCKCTL fault raw --value '{"success":true,"result":[{"id":"\ud800"}]}'
SELECT id FROM cf.roles;
\! python3 $MOCKCTL fault raw --value-base64 eyJzdWNjZXNzIjp0cnVlLCJyZXN1bHQiOlt7ImlkIjoi7aCAIn1dfQ==
SELECT id FROM cf.roles;
-- a control character in a string, NaN, a number with a leading zero
\! python3 $MOCKCTL fault raw --value '{"success":true,"result":[{"id":"a	b"}]}'
SELECT id FROM cf.roles;
\! python3 $MOCKCTL fault raw --value '{"success":true,"result":[{"id":"x","meta":NaN}]}'
SELECT id FROM cf.permission_groups;
\! python3 $MOCKCTL fault raw --value '{"success":true,"result":[{"id":"x","meta":01}]}'
SELECT id FROM cf.permission_groups;
-- nested deeper than 1000 levels
\! python3 $MOCKCTL fault raw --value "$(python3 -c 'print("{\"result\":" + "[" * 1001 + "]" * 1001 + "}")')"
SELECT id FROM cf.roles;
-- a byte order mark before the document is allowed (RFC 8259, section 8.1)
\! python3 $MOCKCTL fault raw --value-base64 77u/eyJzdWNjZXNzIjp0cnVlLCJyZXN1bHQiOlt7ImlkIjoiYm9tIn1dfQ==
SELECT id FROM cf.roles;
-- every one of them was one request
\! python3 $MOCKCTL log | sort | uniq -c

-- A number keeps its value in a jsonb column (a double does not hold it)
\! python3 $MOCKCTL fault raw --value '{"success":true,"errors":[],"messages":[],"result":[{"id":"58965766e2dea0d7c88b9cdcf7523b25","name":"p","meta":{"n":12345678901234567890,"y":0.1000000000000000055511151231257827}}],"result_info":{"page":1,"per_page":50,"count":1,"total_count":1}}'
SELECT meta FROM cf.permission_groups;
-- and in a PUT: a token's policies go out with the number as written
UPDATE cf.account_tokens
   SET policies = jsonb_set(policies, '{0,meta}', '{"value":12345678901234567890}')
 WHERE id = :'t1' RETURNING name;
\! python3 $MOCKCTL log --body | grep -o '"meta":{[^}]*}'

-- A time that is not RFC 3339: an error, not timestamptz's reading of it
\! python3 $MOCKCTL fault patch --field created_on --value '"2024-1-1T1:1:1Z"'
SELECT created_on FROM cf.user_groups;
\echo :SQLSTATE
\! python3 $MOCKCTL fault patch --field created_on --value '"infinity"'
SELECT created_on FROM cf.user_groups;
\! python3 $MOCKCTL fault patch --field created_on --value '"2024-03-01 12:00:00 America/New_York"'
SELECT created_on FROM cf.user_groups;
\! python3 $MOCKCTL fault patch --field created_on --value '"2024-03-01T24:00:00Z"'
SELECT created_on FROM cf.user_groups;
-- the date is still checked: February has no 30th
\! python3 $MOCKCTL fault patch --field created_on --value '"2024-02-30T12:00:00Z"'
SELECT created_on FROM cf.user_groups;
-- RFC 3339 with an offset, a fraction, a leap second: read as the instant
SET TIME ZONE 'UTC';
\! python3 $MOCKCTL fault patch --field created_on --value '"2024-03-01t12:00:00.123456+05:30"'
SELECT DISTINCT created_on FROM cf.user_groups;
\! python3 $MOCKCTL fault patch --field created_on --value '"2016-12-31T23:59:60Z"'
SELECT DISTINCT created_on FROM cf.user_groups;
RESET TIME ZONE;
-- a token read for an UPDATE with such a time: refused, and no PUT sent
\! python3 $MOCKCTL clear-log
\! python3 $MOCKCTL fault patch --field expires_on --value '"today"' --method GET
UPDATE cf.account_tokens SET status = 'active' WHERE id = :'t1';
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'

-- cfiam_replace_user_group_members: its answer is read as the table's
\! python3 $MOCKCTL clear-log
-- an array where a member's id (a string) belongs
\! python3 $MOCKCTL fault raw --method PUT --value '{"success":true,"errors":[],"messages":[],"result":[{"id":["x"],"email":"a@example.com","status":"accepted"}]}'
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'g', ARRAY[:'m']);
\echo :SQLSTATE
-- a result that is a string, or a list of something other than members
\! python3 $MOCKCTL fault raw --method PUT --value '{"success":true,"errors":[],"messages":[],"result":"done"}'
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'g', ARRAY[:'m']);
\! python3 $MOCKCTL fault raw --method PUT --value '{"success":true,"result":[null]}'
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'g', ARRAY[:'m']);
-- no result at all
\! python3 $MOCKCTL fault raw --method PUT --value '{"success":true}'
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'g', ARRAY[:'m']);
-- a null result is an empty group
\! python3 $MOCKCTL fault raw --method PUT --value '{"success":true,"errors":[],"messages":[],"result":null}'
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'g', ARRAY[:'m']);
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'

-- A deferred removal whose answer is not a success is the COMMIT's error
\! python3 $MOCKCTL reset
SELECT id AS g FROM cf.user_groups ORDER BY name LIMIT 1 \gset
SELECT id AS m FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY id LIMIT 1 \gset
\! python3 $MOCKCTL clear-log
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g' AND id = :'m';
\! python3 $MOCKCTL fault raw --method DELETE --value 'true'
COMMIT;
\echo :SQLSTATE
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g' AND id = :'m';
\! python3 $MOCKCTL fault raw --method DELETE --value '{"success":true,"errors":[],"messages":[],"result":[{"id":"'
COMMIT;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g' AND id = :'m';
\! python3 $MOCKCTL fault raw --method DELETE --value '{"success":false,"errors":[{"code":1000,"message":"not removed"}],"messages":[],"result":null}'
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
SELECT 1 AS still_working;
