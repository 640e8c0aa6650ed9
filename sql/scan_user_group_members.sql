-- user_group_members: a group's members are listed per group; without a
-- group the scan lists every group, then each group's members.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 4 --members-per-group 3 --empty-groups 1 --account-members 8

SELECT id, name FROM cf.user_groups ORDER BY name;
\! python3 $MOCKCTL log

-- user_group_id = v: that group's listing only
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, email, status FROM cf.user_group_members
  WHERE user_group_id = '6169e6172518cd94c1faff2412301d81';
SELECT user_group_id, id, email, status FROM cf.user_group_members
  WHERE user_group_id = '6169e6172518cd94c1faff2412301d81';
\! python3 $MOCKCTL log
-- an empty group answers "result": null: no rows, one call
SELECT * FROM cf.user_group_members WHERE user_group_id = '181f1349104404bf29dbb20117ee4f86';
\! python3 $MOCKCTL log
-- not an id: no rows, no call
SELECT * FROM cf.user_group_members WHERE user_group_id = 'admins';
\! python3 $MOCKCTL log

-- user_group_id = ANY: one listing per distinct group
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.user_group_members
  WHERE user_group_id IN ('6169e6172518cd94c1faff2412301d81', '0362cbd6079cb9a6ce7ecd88fde2537e');
SELECT user_group_id, email FROM cf.user_group_members
  WHERE user_group_id IN ('6169e6172518cd94c1faff2412301d81', '0362cbd6079cb9a6ce7ecd88fde2537e', '6169e6172518cd94c1faff2412301d81')
  ORDER BY 1, 2;
\! python3 $MOCKCTL log

-- no group given: list the groups, then each group's members (4 groups: 1 + 4 calls)
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM cf.user_group_members;
SELECT user_group_id, id, email, status FROM cf.user_group_members ORDER BY user_group_id, email;
\! python3 $MOCKCTL log

-- group and member id: one GET of that membership
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.user_group_members
  WHERE user_group_id = '6169e6172518cd94c1faff2412301d81' AND id = '5aa38b0f1986549cba9b4c1e9f276f3b';
SELECT user_group_id, id, email, status FROM cf.user_group_members
  WHERE user_group_id = '6169e6172518cd94c1faff2412301d81' AND id = '5aa38b0f1986549cba9b4c1e9f276f3b';
SELECT email FROM cf.user_group_members
  WHERE user_group_id = '6169e6172518cd94c1faff2412301d81' AND id = '181976eb9ba5a68cf95476bfbeb6cf41';
\! python3 $MOCKCTL log
-- member id alone: every group is listed, the id is checked locally
SELECT user_group_id FROM cf.user_group_members WHERE id = '181976eb9ba5a68cf95476bfbeb6cf41' ORDER BY 1;
\! python3 $MOCKCTL log

-- email LIKE '%v%' is fuzzyEmail, rechecked locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.user_group_members
  WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e' AND email ILIKE '%O''NEIL%';
SELECT email FROM cf.user_group_members
  WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e' AND email ILIKE '%O''NEIL%';
SELECT user_group_id, email FROM cf.user_group_members WHERE email LIKE '%jürgen%';
\! python3 $MOCKCTL log

-- ORDER BY email within one group is the API's direction; across groups PostgreSQL sorts
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.user_group_members
  WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e' ORDER BY email DESC;
SELECT email FROM cf.user_group_members
  WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e' ORDER BY email DESC;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.user_group_members ORDER BY email;
-- LIMIT inside one group sizes the page
SELECT email FROM cf.user_group_members
  WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e' ORDER BY email LIMIT 1;
\! python3 $MOCKCTL log
