-- INSERT, UPDATE and DELETE on cf.account_members: invitations, role and
-- policy changes, removals.  Calls from the mock's log; state read back.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --account-members 130 --roles 3

SELECT (array_agg(id ORDER BY id))[1] AS r1, (array_agg(id ORDER BY id))[2] AS r2,
       (array_agg(id ORDER BY id))[3] AS r3 FROM cf.roles \gset
SELECT id AS pg1 FROM cf.permission_groups ORDER BY id LIMIT 1 \gset
SELECT id AS rg1 FROM cf.resource_groups ORDER BY id LIMIT 1 \gset
\setenv R1 :r1
\setenv R2 :r2
\setenv R3 :r3
\! python3 $MOCKCTL clear-log

-- INSERT with role_ids: one POST, roles as id strings; status defaults to
-- what the API defaults to (pending); RETURNING gives what it assigned
INSERT INTO cf.account_members (email, role_ids) VALUES ('new.hire@example.com', ARRAY[:'r1', :'r2'])
RETURNING length(id) AS id_length, length(user_id) AS user_id_length, email, status,
          role_ids = ARRAY[:'r1', :'r2'] AS roles_ok, first_name, two_factor_authentication_enabled AS tfa;
\! python3 $MOCKCTL log --body | sed -e "s/$R1/<r1>/g" -e "s/$R2/<r2>/g"

-- roles as jsonb: id strings or {"id": ...} objects (as read); status given
INSERT INTO cf.account_members (email, roles, status)
VALUES ('contractor@example.com', jsonb_build_array(:'r3', jsonb_build_object('id', :'r1', 'name', 'x')), 'accepted')
RETURNING email, status, role_ids = ARRAY[:'r3', :'r1'] AS roles_ok;
\! python3 $MOCKCTL log --body | sed -e "s/$R1/<r1>/g" -e "s/$R3/<r3>/g"

-- policies instead of roles
INSERT INTO cf.account_members (email, policies)
VALUES ('auditor@example.com', jsonb_build_array(jsonb_build_object('access', 'allow',
        'permission_groups', jsonb_build_array(jsonb_build_object('id', :'pg1')),
        'resource_groups', jsonb_build_array(jsonb_build_object('id', :'rg1')))))
RETURNING email, jsonb_array_length(policies) AS npolicies, role_ids;
SELECT email, status, cardinality(role_ids) AS nroles FROM cf.account_members
WHERE email IN ('new.hire@example.com', 'contractor@example.com', 'auditor@example.com') ORDER BY email;
\! python3 $MOCKCTL clear-log

-- bad values: checked before any call
INSERT INTO cf.account_members (email, role_ids) VALUES ('not an email', ARRAY[:'r1']);
INSERT INTO cf.account_members (email, role_ids) VALUES ('a@b', ARRAY[:'r1']);
INSERT INTO cf.account_members (email, role_ids) VALUES (repeat('x', 90) || '@example.com', ARRAY[:'r1']);
INSERT INTO cf.account_members (email, role_ids, status) VALUES ('x@example.com', ARRAY[:'r1'], 'rejected');
INSERT INTO cf.account_members (email, role_ids) VALUES ('x@example.com', ARRAY['admin']);
INSERT INTO cf.account_members (email, role_ids) VALUES ('x@example.com', ARRAY[NULL]::text[]);
INSERT INTO cf.account_members (email, roles) VALUES ('x@example.com', '[{"name": "Administrator"}]');
INSERT INTO cf.account_members (email, role_ids, roles) VALUES ('x@example.com', ARRAY[:'r1'], '[]');
INSERT INTO cf.account_members (email) VALUES ('x@example.com');
INSERT INTO cf.account_members (email, role_ids, first_name) VALUES ('x@example.com', ARRAY[:'r1'], 'X');
INSERT INTO cf.account_members (id, email, role_ids) VALUES (:'r1', 'x@example.com', ARRAY[:'r1']);
\! python3 $MOCKCTL log
-- Cloudflare's own refusals: an email already in the account (409), an
-- unknown role (400)
INSERT INTO cf.account_members (email, role_ids) VALUES ('new.hire@example.com', ARRAY[:'r1']);
\echo :SQLSTATE
INSERT INTO cf.account_members (email, role_ids) VALUES ('x@example.com', ARRAY['ffffffffffffffffffffffffffffffff']);
\echo :SQLSTATE
\! python3 $MOCKCTL clear-log

-- UPDATE role_ids by id: a GET by id, then a PUT with roles as objects
SELECT id AS hire FROM cf.account_members WHERE email = 'new.hire@example.com' \gset
\setenv HIRE :hire
\! python3 $MOCKCTL clear-log
UPDATE cf.account_members SET role_ids = ARRAY[:'r3'] WHERE id = :'hire'
RETURNING email, status, role_ids = ARRAY[:'r3'] AS roles_ok, roles->0->>'id' = :'r3' AS roles_json_ok;
\! python3 $MOCKCTL log --body | sed -e "s/$HIRE/<hire>/g" -e "s/$R3/<r3>/g"
-- roles as jsonb, and policies
UPDATE cf.account_members SET roles = jsonb_build_array(:'r1', :'r2') WHERE id = :'hire'
RETURNING role_ids = ARRAY[:'r1', :'r2'] AS roles_ok;
UPDATE cf.account_members
SET policies = jsonb_build_array(jsonb_build_object('access', 'deny',
        'permission_groups', jsonb_build_array(jsonb_build_object('id', :'pg1')),
        'resource_groups', jsonb_build_array(jsonb_build_object('id', :'rg1'))))
WHERE id = :'hire'
RETURNING policies->0->>'access' AS access, role_ids = ARRAY[:'r1', :'r2'] AS roles_kept;
\! python3 $MOCKCTL log --body | sed -e "s/$HIRE/<hire>/g" -e "s/$R1/<r1>/g" -e "s/$R2/<r2>/g" -e 's/"[0-9a-f]\{32\}"/"<id>"/g'
SELECT email, role_ids = ARRAY[:'r1', :'r2'] AS roles_ok, policies->0->>'access' AS access
FROM cf.account_members WHERE id = :'hire';
\! python3 $MOCKCTL clear-log

-- what the API cannot change: an error at plan time, nothing sent
UPDATE cf.account_members SET email = 'other@example.com' WHERE id = :'hire';
UPDATE cf.account_members SET status = 'accepted' WHERE id = :'hire';
UPDATE cf.account_members SET first_name = 'New' WHERE id = :'hire';
UPDATE cf.account_members SET id = :'r1' WHERE id = :'hire';
UPDATE cf.account_members SET role_ids = ARRAY[:'r1'], roles = '[]' WHERE id = :'hire';
UPDATE cf.account_members SET role_ids = NULL WHERE id = :'hire';
UPDATE cf.account_members SET role_ids = ARRAY['bad'] WHERE id = :'hire';
\! python3 $MOCKCTL log | sed -e "s/$HIRE/<hire>/g"

-- DELETE by id: a GET by id, then the DELETE; RETURNING shows the old row
\! python3 $MOCKCTL clear-log
DELETE FROM cf.account_members WHERE id = :'hire' RETURNING email, role_ids = ARRAY[:'r1', :'r2'] AS roles_ok;
\! python3 $MOCKCTL log | sed -e "s/$HIRE/<hire>/g"
SELECT count(*) FROM cf.account_members WHERE email = 'new.hire@example.com';

-- DELETE over a listing of several pages: every page is read before the
-- first DELETE, since each DELETE shifts the pages after it
SELECT count(*) AS accepted_before FROM cf.account_members WHERE status = 'accepted';
\! python3 $MOCKCTL clear-log
DELETE FROM cf.account_members WHERE status = 'accepted';
\! python3 $MOCKCTL log | sed -e "s|members/[0-9a-f]\{32\}|members/<member>|" | uniq -c
SELECT status, count(*) FROM cf.account_members GROUP BY status ORDER BY status;

-- a statement that fails half way: the third DELETE is refused; two rows
-- are gone at Cloudflare and the error says so
SELECT array_agg(id ORDER BY id) AS five FROM (SELECT id FROM cf.account_members ORDER BY id LIMIT 5) s \gset
SELECT (:'five'::text[])[3] AS third \gset
\setenv THIRD :third
\! python3 $MOCKCTL fault status --status 500 --code 10001 --message 'Internal error' --method DELETE --match $THIRD
\! python3 $MOCKCTL clear-log
DELETE FROM cf.account_members WHERE id = ANY (:'five'::text[]);
\echo :SQLSTATE
\! python3 $MOCKCTL log | sed -e "s/$THIRD/<third>/g" -e "s|members/[0-9a-f]\{32\}|members/<member>|"
SELECT array_position(:'five'::text[], id) AS still_there FROM cf.account_members WHERE id = ANY (:'five'::text[]) ORDER BY 1;
