-- INSERT and DELETE on cf.user_group_members, and
-- cfiam_replace_user_group_members(): calls made, rows returned, state after.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 6 --members-per-group 3 --empty-groups 4 --account-members 120

-- four empty groups to fill, and one group with members
SELECT (array_agg(g.id ORDER BY g.name))[1] AS e1, (array_agg(g.id ORDER BY g.name))[2] AS e2,
       (array_agg(g.id ORDER BY g.name))[3] AS e3, (array_agg(g.id ORDER BY g.name))[4] AS e4
FROM cf.user_groups g
WHERE NOT EXISTS (SELECT FROM cf.user_group_members m WHERE m.user_group_id = g.id) \gset
SELECT user_group_id AS g0, id AS g0_member FROM cf.user_group_members ORDER BY user_group_id, id LIMIT 1 \gset
\setenv E1 :e1
\setenv E2 :e2
\setenv E3 :e3
\setenv E4 :e4
\setenv G0 :g0
\! python3 $MOCKCTL clear-log

-- 50 rows into one group: one POST whose body lists all 50
INSERT INTO cf.user_group_members (user_group_id, id)
SELECT :'e1', id FROM cf.account_members ORDER BY email LIMIT 50;
\! python3 $MOCKCTL log --keep | sed -e "s/$E1/<e1>/g"
\! python3 $MOCKCTL log --body | grep '^POST' | grep -o '{"id":"[0-9a-f]\{32\}"}' | wc -l
SELECT count(*) AS members_of_e1 FROM cf.user_group_members WHERE user_group_id = :'e1';
SELECT count(*) AS same_as_inserted
FROM cf.user_group_members m
JOIN (SELECT id FROM cf.account_members ORDER BY email LIMIT 50) a USING (id)
WHERE m.user_group_id = :'e1';
\! python3 $MOCKCTL clear-log

-- rows for two groups, interleaved: batches of 100 rows, one POST per group
-- and batch (120 rows: 50 + 50, then 10 + 10)
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
INSERT INTO cf.user_group_members (user_group_id, id)
SELECT CASE WHEN n % 2 = 0 THEN :'e2' ELSE :'e3' END, id
FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM cf.account_members) a;
\! python3 $MOCKCTL log --body | grep '^POST' | sed -e "s/$E2/<e2>/g" -e "s/$E3/<e3>/g" | awk '{ print $1, $2, gsub(/"id"/, "") " members" }'
SELECT user_group_id = :'e2' AS is_e2, count(*)
FROM cf.user_group_members WHERE user_group_id IN (:'e2', :'e3') GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL clear-log

-- with RETURNING, PostgreSQL hands rows over one at a time: one POST each,
-- and RETURNING shows email and status from the answer
SELECT id AS m1, email AS m1_email, status AS m1_status FROM cf.account_members ORDER BY email OFFSET 60 LIMIT 1 \gset
\setenv M1 :m1
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e1', :'m1')
RETURNING user_group_id = :'e1' AS group_ok, id = :'m1' AS id_ok,
          email = :'m1_email' AS email_ok, status = :'m1_status' AS status_ok;
\! python3 $MOCKCTL log --body | sed -e "s/$E1/<e1>/g" -e "s/$M1/<m1>/g"

-- already a member: Cloudflare's 409 is a unique_violation
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e1', :'m1');
\echo :SQLSTATE
\! python3 $MOCKCTL clear-log

-- a statement that fails half way: the first group's POST succeeded, the
-- second group's was refused; the error says what was already applied
SELECT id AS n1 FROM cf.account_members ORDER BY email OFFSET 70 LIMIT 1 \gset
SELECT id AS n2 FROM cf.account_members ORDER BY email OFFSET 71 LIMIT 1 \gset
\! python3 $MOCKCTL clear-log
INSERT INTO cf.user_group_members (user_group_id, id)
VALUES (:'e4', :'n1'), (:'e4', :'n2'), (:'g0', :'g0_member');
\echo :SQLSTATE
\! python3 $MOCKCTL log | sed -e "s/$E4/<e4>/g" -e "s/$G0/<g0>/g"
SELECT count(*) AS members_of_e4 FROM cf.user_group_members WHERE user_group_id = :'e4';
\! python3 $MOCKCTL clear-log

-- bad values: checked before any call
INSERT INTO cf.user_group_members (user_group_id, id) VALUES ('not-a-group', :'m1');
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e1', 'ABCDEF0123456789ABCDEF0123456789');
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (NULL, :'m1');
INSERT INTO cf.user_group_members (user_group_id, id, email) VALUES (:'e4', :'m1', 'x@example.com');
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e4', :'m1'), (:'e4', :'m1');
\echo :SQLSTATE
-- with RETURNING rows go one at a time: the repeat is still caught before its POST
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e4', :'m1'), (:'e4', :'m1') RETURNING id = :'m1' AS id_ok;
\echo :SQLSTATE
\! python3 $MOCKCTL log | sed -e "s/$E4/<e4>/g"
DELETE FROM cf.user_group_members WHERE user_group_id = :'e4' AND id = :'m1';
\! python3 $MOCKCTL log
-- a group or member that does not exist: Cloudflare's error
INSERT INTO cf.user_group_members (user_group_id, id) VALUES ('ffffffffffffffffffffffffffffffff', :'m1');
\echo :SQLSTATE
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'e4', 'ffffffffffffffffffffffffffffffff');
\echo :SQLSTATE
\! python3 $MOCKCTL clear-log

-- UPDATE: a membership has nothing to change
UPDATE cf.user_group_members SET id = :'m1' WHERE user_group_id = :'e1';

-- DELETE by group and member id: a GET of that membership, then the DELETE
DELETE FROM cf.user_group_members WHERE user_group_id = :'e1' AND id = :'m1'
RETURNING id = :'m1' AS id_ok, email = :'m1_email' AS email_ok;
\! python3 $MOCKCTL log | sed -e "s/$E1/<e1>/g" -e "s/$M1/<m1>/g"
SELECT count(*) AS still_there FROM cf.user_group_members WHERE user_group_id = :'e1' AND id = :'m1';
\! python3 $MOCKCTL clear-log

-- DELETE of a whole group's members: one listing, then one DELETE per row
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
DELETE FROM cf.user_group_members WHERE user_group_id = :'e2';
\! python3 $MOCKCTL log | sed -e "s/$E2/<e2>/g" -e "s|members/[0-9a-f]\{32\}|members/<member>|" | sort | uniq -c
SELECT count(*) AS members_of_e2 FROM cf.user_group_members WHERE user_group_id = :'e2';

-- cfiam_replace_user_group_members: one PUT with the whole set
SELECT array_agg(id ORDER BY email) AS three FROM (SELECT id, email FROM cf.account_members ORDER BY email LIMIT 3) a \gset
\! python3 $MOCKCTL clear-log
SELECT id = ANY (:'three'::text[]) AS listed, email IS NOT NULL AS has_email, status
FROM cfiam_replace_user_group_members('cloudflare', :'e1', :'three'::text[] || (:'three'::text[])[1]);
\! python3 $MOCKCTL log --body | sed -e "s/$E1/<e1>/g" -e 's/"[0-9a-f]\{32\}"/"<id>"/g'
SELECT count(*) AS members_of_e1 FROM cf.user_group_members WHERE user_group_id = :'e1';
-- an empty array empties the group
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfiam_replace_user_group_members('cloudflare', :'e1', '{}');
\! python3 $MOCKCTL log --body | sed -e "s/$E1/<e1>/g"
SELECT count(*) AS members_of_e1 FROM cf.user_group_members WHERE user_group_id = :'e1';
\! python3 $MOCKCTL clear-log
-- bad arguments: nothing sent
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'e1', NULL);
SELECT * FROM cfiam_replace_user_group_members('cloudflare', 'x', '{}');
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'e1', ARRAY['1234']);
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'e1', ARRAY[NULL]::text[]);
SELECT * FROM cfiam_replace_user_group_members('nosuchserver', :'e1', '{}');
CREATE FOREIGN DATA WRAPPER not_cfiam;
CREATE SERVER other FOREIGN DATA WRAPPER not_cfiam;
SELECT * FROM cfiam_replace_user_group_members('other', :'e1', '{}');
DROP FOREIGN DATA WRAPPER not_cfiam CASCADE;
-- a role without USAGE on the server
CREATE ROLE cfiam_no_usage;
SET ROLE cfiam_no_usage;
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'e1', '{}');
RESET ROLE;
DROP ROLE cfiam_no_usage;
\! python3 $MOCKCTL count
-- a group that does not exist
SELECT * FROM cfiam_replace_user_group_members('cloudflare', 'ffffffffffffffffffffffffffffffff', '{}');
