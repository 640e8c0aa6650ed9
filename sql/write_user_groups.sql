-- INSERT, UPDATE and DELETE on cf.user_groups: the calls each statement makes
-- (from the mock's request log), what RETURNING gives, and what the API holds
-- afterwards, read back through the FDW.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset

SELECT id AS pg1 FROM cf.permission_groups ORDER BY id LIMIT 1 \gset
SELECT id AS rg1 FROM cf.resource_groups ORDER BY id LIMIT 1 \gset
\setenv PG1 :pg1
\setenv RG1 :rg1
\! python3 $MOCKCTL clear-log

-- INSERT: one POST; RETURNING shows what Cloudflare assigned.
INSERT INTO cf.user_groups (name) VALUES ('Auditors')
RETURNING length(id) AS id_length, name, created_on > now() - interval '1 hour' AS fresh,
          created_on = modified_on AS unmodified, policies;
\! python3 $MOCKCTL log --body

-- Policies as the API takes them, or as cfiam reads them (whole permission
-- and resource group objects): only ids are sent.
INSERT INTO cf.user_groups (name, policies)
VALUES ('Readers', jsonb_build_array(jsonb_build_object(
          'access', 'allow',
          'permission_groups', jsonb_build_array(jsonb_build_object('id', :'pg1', 'name', 'ignored')),
          'resource_groups', jsonb_build_array(:'rg1'))))
RETURNING name, jsonb_array_length(policies) AS npolicies,
          policies->0->>'access' AS access,
          policies->0->'permission_groups'->0->>'id' = :'pg1' AS pg_ok,
          policies->0->'resource_groups'->0->>'id' = :'rg1' AS rg_ok;
\! python3 $MOCKCTL log --body | sed -e "s/$PG1/<pg1>/g" -e "s/$RG1/<rg1>/g"

-- several rows: one POST each, in order
INSERT INTO cf.user_groups (name) VALUES ('Batch A'), ('Batch B'), ('Batch C');
\! python3 $MOCKCTL log --body
SELECT name FROM cf.user_groups WHERE name LIKE 'Batch%' OR name IN ('Auditors', 'Readers') ORDER BY name;
\! python3 $MOCKCTL clear-log

-- UPDATE by id: a GET by id finds the row (no listing), then one PUT with
-- only the columns SET.  RETURNING shows the answer of the PUT.
SELECT id AS auditors FROM cf.user_groups WHERE name = 'Auditors' \gset
\setenv AUDITORS :auditors
\! python3 $MOCKCTL clear-log
UPDATE cf.user_groups SET name = 'Auditors (EU)' WHERE id = :'auditors'
RETURNING name, modified_on >= created_on AS modified;
\! python3 $MOCKCTL log --body | sed -e "s/$AUDITORS/<auditors>/g"

-- policies in the update form: each carries its id
SELECT policies->0->>'id' AS policy_id FROM cf.user_groups WHERE name = 'Readers' \gset
UPDATE cf.user_groups SET policies = jsonb_set(policies, '{0,access}', '"deny"')
WHERE name = 'Readers'
RETURNING name, policies->0->>'access' AS access, policies->0->>'id' = :'policy_id' AS same_policy;
\! python3 $MOCKCTL log --body | sed -e "s/$PG1/<pg1>/g" -e "s/$RG1/<rg1>/g" -e "s/\"id\":\"[0-9a-f]\{32\}\",\"access\"/\"id\":\"<policy>\",\"access\"/" -e "s|user_groups/[0-9a-f]\{32\}|user_groups/<readers>|"

-- EXPLAIN VERBOSE shows the call template of the modify and of its scan
EXPLAIN (VERBOSE, COSTS OFF) UPDATE cf.user_groups SET name = 'x' WHERE id = '00000000000000000000000000000000';
EXPLAIN (VERBOSE, COSTS OFF) DELETE FROM cf.user_groups WHERE name = 'x';
EXPLAIN (VERBOSE, COSTS OFF) INSERT INTO cf.user_groups (name) VALUES ('x');
\! python3 $MOCKCTL count

-- EXPLAIN ANALYZE counts the calls of the statement
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
UPDATE cf.user_groups SET name = name || ' (renamed)' WHERE name LIKE 'Batch%';
SELECT name FROM cf.user_groups WHERE name LIKE 'Batch%' ORDER BY name;
\! python3 $MOCKCTL clear-log

-- columns that cannot be changed: an error at plan time, nothing sent
UPDATE cf.user_groups SET id = '00000000000000000000000000000000' WHERE name = 'Readers';
UPDATE cf.user_groups SET created_on = now() WHERE name = 'Readers';
UPDATE cf.user_groups SET name = NULL WHERE name = 'Readers';
UPDATE cf.user_groups SET name = '' WHERE name = 'Readers';
-- a policy without its id cannot be updated
UPDATE cf.user_groups SET policies = '[{"access": "allow", "permission_groups": [], "resource_groups": []}]'
WHERE name = 'Readers';
\! python3 $MOCKCTL log

-- bad values for INSERT: checked before any call
INSERT INTO cf.user_groups (name) VALUES (NULL);
INSERT INTO cf.user_groups (id, name) VALUES ('00000000000000000000000000000000', 'x');
INSERT INTO cf.user_groups (name, created_on) VALUES ('x', now());
INSERT INTO cf.user_groups (name, policies) VALUES ('x', '{"access": "allow"}');
INSERT INTO cf.user_groups (name, policies) VALUES ('x', '[{"access": "maybe", "permission_groups": [], "resource_groups": []}]');
INSERT INTO cf.user_groups (name, policies) VALUES ('x', '[{"access": "allow", "permission_groups": [{"id": "../../x"}], "resource_groups": []}]');
INSERT INTO cf.user_groups (name, policies) VALUES ('x', '[{"access": "allow", "resource_groups": []}]');
INSERT INTO cf.user_groups (name) VALUES ('x') ON CONFLICT DO NOTHING;
\! python3 $MOCKCTL log

-- an error from Cloudflare: its code and message, the call in DETAIL
INSERT INTO cf.user_groups (name, policies)
VALUES ('x', '[{"access": "allow", "permission_groups": [{"id": "ffffffffffffffffffffffffffffffff"}], "resource_groups": []}]');
\! python3 $MOCKCTL log

-- DELETE by id: a GET by id, then the DELETE
\! python3 $MOCKCTL clear-log
DELETE FROM cf.user_groups WHERE id = :'auditors' RETURNING name;
\! python3 $MOCKCTL log | sed -e "s/$AUDITORS/<auditors>/g"
SELECT count(*) FROM cf.user_groups WHERE id = :'auditors';
-- the row is gone: the GET finds nothing and nothing is deleted
DELETE FROM cf.user_groups WHERE id = :'auditors';
\! python3 $MOCKCTL log | sed -e "s/$AUDITORS/<auditors>/g"
-- a value that is no id matches nothing and sends nothing
DELETE FROM cf.user_groups WHERE id = 'not-an-id';
\! python3 $MOCKCTL count

-- a row that vanished between the scan and the PUT or DELETE (a 404) is not
-- changed, like a row deleted concurrently in PostgreSQL: UPDATE 0, no error
\! python3 $MOCKCTL fault status --status 404 --code 1003 --message 'User group not found' --method PUT
WITH changed AS (UPDATE cf.user_groups SET name = 'gone' WHERE name = 'Readers' RETURNING 1)
SELECT count(*) AS updated FROM changed;
\! python3 $MOCKCTL fault status --status 404 --code 1003 --message 'User group not found' --method DELETE
WITH gone AS (DELETE FROM cf.user_groups WHERE name = 'Readers' RETURNING 1)
SELECT count(*) AS deleted FROM gone;
\! python3 $MOCKCTL log | sed -e "s|user_groups/[0-9a-f]\{32\}|user_groups/<readers>|"
SELECT name FROM cf.user_groups WHERE name = 'Readers';

-- a write inside a transaction that rolls back: the API call was made and
-- stays made (an HTTP API has no transactions)
BEGIN;
INSERT INTO cf.user_groups (name) VALUES ('Rolled back');
ROLLBACK;
SELECT name FROM cf.user_groups WHERE name = 'Rolled back';
\! python3 $MOCKCTL log

-- read-only tables
INSERT INTO cf.roles (name) VALUES ('x');
UPDATE cf.permission_groups SET name = 'x';
DELETE FROM cf.resource_groups;
\! python3 $MOCKCTL count
