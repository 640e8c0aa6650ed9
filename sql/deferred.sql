-- deferred: cfiam.write_mode = deferred queues INSERT, UPDATE and DELETE
-- and sends them at COMMIT, coalesced; counted from the mock's log.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 3 --members-per-group 2 --account-members 400
SHOW cfiam.write_mode;
SET cfiam.write_mode = later;
-- the groups, and members that are in none of them
SELECT id AS g1 FROM cf.user_groups ORDER BY name LIMIT 1 \gset
SELECT id AS g2 FROM cf.user_groups ORDER BY name OFFSET 1 LIMIT 1 \gset
CREATE TEMP TABLE outsiders AS
  SELECT a.id, a.email FROM cf.account_members a
  WHERE a.id NOT IN (SELECT m.id FROM cf.user_group_members m)
  ORDER BY a.email;
SELECT count(*) AS outsiders FROM outsiders;
\! python3 $MOCKCTL clear-log

-- Nothing is sent before COMMIT; the statements check every value as before
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g1', id FROM outsiders ORDER BY email LIMIT 3;
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'g1', 'not-an-id');
ROLLBACK;
\! python3 $MOCKCTL log
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g1', id FROM outsiders ORDER BY email LIMIT 3;
\! python3 $MOCKCTL log
SELECT seq, method, path, jsonb_array_length(body) AS members FROM cfiam_pending_changes();
-- EXPLAIN VERBOSE says where the calls go
EXPLAIN (VERBOSE, COSTS OFF)
  INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'g1', :'g2');
-- ROLLBACK sends nothing
ROLLBACK;
\! python3 $MOCKCTL log
SELECT count(*) AS pending_after_rollback FROM cfiam_pending_changes();

-- 300 additions to one group: 3 POSTs of 100 at COMMIT
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g1', id FROM outsiders ORDER BY email LIMIT 300;
SELECT seq, method, jsonb_array_length(body) AS members FROM cfiam_pending_changes();
\! python3 $MOCKCTL log
COMMIT;
\! python3 $MOCKCTL log | cut -c1-110
SELECT count(*) AS members_of_g1 FROM cf.user_group_members WHERE user_group_id = :'g1';
\! python3 $MOCKCTL clear-log

-- ROLLBACK TO SAVEPOINT drops what was queued after it
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 300 LIMIT 1;
SAVEPOINT s;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 301 LIMIT 5;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 310 LIMIT 1;
RELEASE SAVEPOINT t;
SELECT seq, method, jsonb_array_length(body) AS members FROM cfiam_pending_changes();
COMMIT;
\! python3 $MOCKCTL log
SELECT count(*) AS members_of_g2 FROM cf.user_group_members WHERE user_group_id = :'g2';
\! python3 $MOCKCTL clear-log

-- A removal is a DELETE: ten removals are ten DELETEs, in flight together
-- (never a GET of the members and a PUT of a set computed from it, which
-- would undo what someone else changed in between: see concurrent_sessions)
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members
  WHERE user_group_id = :'g2' AND id = (SELECT id FROM outsiders ORDER BY email OFFSET 300 LIMIT 1);
SELECT seq, method FROM cfiam_pending_changes();
-- (the DELETE found its row with a GET; COMMIT sends the rest)
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members
  WHERE user_group_id = :'g1' AND id IN (SELECT id FROM outsiders ORDER BY email LIMIT 10);
\! python3 $MOCKCTL clear-log
SELECT seq, method, body IS NULL AS no_body FROM cfiam_pending_changes();
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g; s/(PUT [^ ]*) .*/\1/'
SELECT count(*) AS members_of_g1 FROM cf.user_group_members WHERE user_group_id = :'g1';
\! python3 $MOCKCTL clear-log

-- Additions and removals in one group: a POST of the additions, a DELETE
-- of each removal
SELECT array_agg(id ORDER BY id) AS before FROM cf.user_group_members WHERE user_group_id = :'g2' \gset
\! python3 $MOCKCTL clear-log
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 320 LIMIT 2;
DELETE FROM cf.user_group_members
  WHERE user_group_id = :'g2' AND id = (SELECT min(id) FROM cf.user_group_members WHERE user_group_id = :'g2');
-- the SELECT shows the group as COMMIT will leave it
SELECT count(*) AS as_after_commit FROM cf.user_group_members WHERE user_group_id = :'g2';
SELECT count(*) FILTER (WHERE email IS NULL) AS pending_additions_shown
  FROM cf.user_group_members WHERE user_group_id = :'g2';
SELECT seq, method FROM cfiam_pending_changes();
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g; s/(PUT [^ ]*) .*/\1/'
SELECT array_agg(id ORDER BY id) AS after FROM cf.user_group_members WHERE user_group_id = :'g2' \gset
SELECT cardinality(:'after'::text[]) AS members,
       (SELECT count(*) FROM unnest(:'after'::text[]) a WHERE a <> ALL (:'before'::text[])) AS added,
       (SELECT count(*) FROM unnest(:'before'::text[]) b WHERE b <> ALL (:'after'::text[])) AS removed;
\! python3 $MOCKCTL clear-log

-- user_groups and account_members: one call per row, in statement order,
-- before the membership changes; other tables say their changes are not shown
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('Deferred group') RETURNING name;
UPDATE cf.user_groups SET name = name || ' (renamed)' WHERE id = :'g1';
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 330 LIMIT 1;
SELECT count(*) FROM cf.user_groups;
SELECT seq, method, path ~ 'members' AS members, body FROM cfiam_pending_changes();
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g; s/(POST [^ ]*members) .*/\1/'
SELECT name FROM cf.user_groups WHERE name LIKE 'Deferred%' OR name LIKE '%(renamed)' ORDER BY name;
\! python3 $MOCKCTL clear-log

-- A group created and filled in one transaction: its members are queued
-- under the provisional id cfiam_pending_group_id() gives; COMMIT creates
-- the group first and adds them under the id Cloudflare answered
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('On call');
SELECT cfiam_pending_group_id('On call') AS oncall \gset
SELECT :'oncall' AS provisional_id;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'oncall', id FROM outsiders ORDER BY email OFFSET 360 LIMIT 3;
-- the SELECT overlay shows the new group with its pending members
SELECT user_group_id, id = ANY (ARRAY(SELECT id FROM outsiders ORDER BY email OFFSET 360 LIMIT 3)) AS queued, email
  FROM cf.user_group_members WHERE user_group_id = :'oncall';
SELECT count(*) AS shown_in_full_listing FROM cf.user_group_members WHERE user_group_id IN (:'oncall', :'g2')
   AND id = ANY (ARRAY(SELECT id FROM outsiders ORDER BY email OFFSET 360 LIMIT 3));
-- a removal from a group that does not exist yet removes nothing at COMMIT
DELETE FROM cf.user_group_members WHERE user_group_id = :'oncall';
SELECT seq, method, regexp_replace(path, '[0-9a-f]{32}', 'ID', 'g') AS path,
       CASE jsonb_typeof(body) WHEN 'array' THEN jsonb_array_length(body) || ' members'
                               ELSE body::text END AS body
  FROM cfiam_pending_changes();
\! python3 $MOCKCTL log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g; s/(members) .*/\1/'
SELECT g.name, count(m.id) AS members,
       bool_and(m.id = ANY (ARRAY(SELECT id FROM outsiders ORDER BY email OFFSET 360 LIMIT 3))) AS the_queued_ones
  FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
 WHERE g.name = 'On call' GROUP BY g.name;
-- a provisional id means nothing outside the transaction that queued it,
-- nor before its group is queued, nor in the immediate mode
SELECT cfiam_pending_group_id('On call');
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'oncall', id FROM outsiders ORDER BY email OFFSET 363 LIMIT 1;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'oncall', id FROM outsiders ORDER BY email OFFSET 363 LIMIT 1;
ROLLBACK;
-- two groups of one name in a transaction: which one is meant is ambiguous;
-- ROLLBACK TO SAVEPOINT drops a creation and what was queued under it
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('Twice'), ('Twice');
SELECT cfiam_pending_group_id('Twice');
ROLLBACK;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
SAVEPOINT s;
INSERT INTO cf.user_groups (name) VALUES ('Dropped');
SELECT cfiam_pending_group_id('Dropped') AS dropped \gset
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'dropped', id FROM outsiders ORDER BY email OFFSET 364 LIMIT 1;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS pending FROM cfiam_pending_changes();
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'dropped', id FROM outsiders ORDER BY email OFFSET 364 LIMIT 1;
ROLLBACK;
\! python3 $MOCKCTL log
\! python3 $MOCKCTL clear-log
-- pending additions have no email yet: while changes are queued, a listing
-- of members sorted by email is sorted by PostgreSQL, not taken as the API's
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g1', id FROM outsiders ORDER BY email OFFSET 370 LIMIT 1;
EXPLAIN (COSTS OFF)
  SELECT email FROM cf.user_group_members WHERE user_group_id = :'g1' ORDER BY email DESC;
SELECT email IS NULL AS pending_addition
  FROM cf.user_group_members WHERE user_group_id = :'g1' ORDER BY email DESC LIMIT 2;
ROLLBACK;
\! python3 $MOCKCTL clear-log

-- an answer to the group's creation without a usable id: its members are
-- not sent anywhere, and the error says the group was created
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('Answered without an id');
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT cfiam_pending_group_id('Answered without an id'), id
    FROM outsiders ORDER BY email OFFSET 365 LIMIT 2;
\! python3 $MOCKCTL fault patch --count 1 --method POST --match 'user_groups' --field id --value '"../../members"'
COMMIT;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
\! python3 $MOCKCTL clear-log

-- RETURNING: what the statement gives, yes; what Cloudflare fills, no
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('Returning') RETURNING id;
ROLLBACK;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 340 LIMIT 1 RETURNING user_group_id = :'g2' AS given, email;
ROLLBACK;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 340 LIMIT 1 RETURNING user_group_id = :'g2' AS given;
ROLLBACK;
\! python3 $MOCKCTL log

-- PREPARE TRANSACTION with changes queued is refused
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_group_members (user_group_id, id)
  SELECT :'g2', id FROM outsiders ORDER BY email OFFSET 350 LIMIT 1;
PREPARE TRANSACTION 'cfiam';
\! python3 $MOCKCTL log

-- A failure at COMMIT aborts the transaction with Cloudflare's error, and
-- says which calls were applied before it (they stay applied)
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
UPDATE cf.user_groups SET name = 'Applied before the failure' WHERE id = :'g2';
INSERT INTO cf.user_groups (name) VALUES ('Refused at COMMIT');
UPDATE cf.user_groups SET name = 'Never sent' WHERE id = :'g1';
\! python3 $MOCKCTL clear-log
\! python3 $MOCKCTL fault status --status 500 --count 1 --method POST --match 'user_groups'
COMMIT;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
SELECT name FROM cf.user_groups
 WHERE name IN ('Applied before the failure', 'Refused at COMMIT', 'Never sent') ORDER BY name;

-- the immediate mode (the default) is unchanged: sent at once, kept by ROLLBACK
\! python3 $MOCKCTL clear-log
BEGIN;
INSERT INTO cf.user_groups (name) VALUES ('Immediate');
\! python3 $MOCKCTL log
ROLLBACK;
SELECT name FROM cf.user_groups WHERE name = 'Immediate';

-- A COMMIT's calls are reserved in the rate-limit window once, before the
-- first: its batch of removals is not counted a second time.  Quota 1000,
-- 862 spent: 138 left, 38 above the reserve of 100; 30 removals fit.
\! python3 $MOCKCTL reset --user-groups 1 --members-per-group 40 --account-members 50
SELECT id AS g FROM cf.user_groups LIMIT 1 \gset
\! python3 $MOCKCTL ratelimit --quota 1000 --window 300 --spent 860
SELECT count(*) AS roles FROM cf.roles;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members
 WHERE user_group_id = :'g'
   AND id IN (SELECT id FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY email LIMIT 30);
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL count
SELECT count(*) AS members_left FROM cf.user_group_members WHERE user_group_id = :'g';
\! python3 $MOCKCTL ratelimit --off
SELECT cfiam_limits_reset() >= 0 AS forgotten;
