-- account_tokens: the account's API tokens, expired ones included; id
-- pushed down to a GET; UPDATE sends the whole token in one PUT; DELETE
-- revokes.  No column holds a token's secret.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset
-- the columns: no secret among them
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'cf.account_tokens'::regclass AND attnum > 0
  ORDER BY attnum;
-- every token, the expired ones too: one listing that asks for them
EXPLAIN (VERBOSE, COSTS OFF) SELECT name, status FROM cf.account_tokens;
\! python3 $MOCKCTL clear-log
SELECT name, status, expires_on IS NULL AS never_expires, last_used_on IS NULL AS never_used,
       expires_on < now() AS expired_already
  FROM cf.account_tokens ORDER BY issued_on;
\! python3 $MOCKCTL log

-- by id: one GET
SELECT id AS t1 FROM cf.account_tokens WHERE name LIKE 'CI deploy%' \gset
SELECT id AS t3 FROM cf.account_tokens WHERE name LIKE 'Disabled backup%' \gset
\! python3 $MOCKCTL clear-log
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.account_tokens WHERE id = :'t1';
SELECT name, status, condition -> 'request_ip' -> 'in' AS allowed,
       jsonb_array_length(policies) AS policies
  FROM cf.account_tokens WHERE id = :'t1';
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
-- a malformed id matches no token: nothing is sent
SELECT name FROM cf.account_tokens WHERE id = 'not-a-token-id';
\! python3 $MOCKCTL count

-- Tokens unused for 90 days, never used, or never expiring (a report)
SELECT name, status,
       CASE WHEN last_used_on IS NULL THEN 'never used'
            WHEN last_used_on < now() - interval '90 days' THEN 'unused for 90 days' END AS use,
       CASE WHEN expires_on IS NULL THEN 'never expires' END AS expiry
  FROM cf.account_tokens
 WHERE status <> 'expired'
   AND (last_used_on IS NULL OR last_used_on < now() - interval '90 days' OR expires_on IS NULL)
 ORDER BY name;

-- UPDATE: disable a token.  A PUT takes the whole token: the row's own
-- name, policies, condition and expiry go with the new status.
\! python3 $MOCKCTL clear-log
UPDATE cf.account_tokens SET status = 'disabled' WHERE id = :'t1'
  RETURNING name, status, condition IS NOT NULL AS condition_kept,
            jsonb_array_length(policies) AS policies, expires_on > now() AS expiry_kept;
\! python3 $MOCKCTL log --body | sed -E 's/[0-9a-f]{32}/ID/g; s/"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"/"TIME"/g'
-- a new expiry, sent as RFC 3339 in UTC whatever the session's time zone
SET TIME ZONE 'America/New_York';
UPDATE cf.account_tokens SET expires_on = '2031-06-30 20:00:00-04', name = 'CI deploy (renamed)'
  WHERE id = :'t1' RETURNING name, expires_on;
RESET TIME ZONE;
\! python3 $MOCKCTL log --body | tail -n 1 | grep -o '"expires_on":"[^"]*"'
-- a token without expiry: expires_on set to null is left out of the PUT
UPDATE cf.account_tokens SET expires_on = NULL WHERE id = :'t1' RETURNING expires_on IS NULL AS never_expires;
-- what cannot be set
UPDATE cf.account_tokens SET status = 'expired' WHERE id = :'t1';
UPDATE cf.account_tokens SET status = 'paused' WHERE id = :'t1';
UPDATE cf.account_tokens SET name = '' WHERE id = :'t1';
UPDATE cf.account_tokens SET expires_on = 'infinity' WHERE id = :'t1';
UPDATE cf.account_tokens SET expires_on = '10000-01-01 00:00:00+00' WHERE id = :'t1';
UPDATE cf.account_tokens SET not_before = '0044-03-15 00:00:00+00 BC' WHERE id = :'t1';
UPDATE cf.account_tokens SET policies = '{"not": "a list"}' WHERE id = :'t1';
UPDATE cf.account_tokens SET condition = '[]' WHERE id = :'t1';
UPDATE cf.account_tokens SET last_used_on = now() WHERE id = :'t1';
UPDATE cf.account_tokens SET id = 'x' WHERE id = :'t1';
-- a token is created with its secret in the answer: cfiam does not create
INSERT INTO cf.account_tokens (name) VALUES ('New');

-- DELETE revokes; RETURNING gives the row as it was
\! python3 $MOCKCTL clear-log
DELETE FROM cf.account_tokens WHERE id = :'t3' RETURNING name, status;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
SELECT count(*) AS left_of_t3 FROM cf.account_tokens WHERE id = :'t3';
-- EXPLAIN of the writes names the calls
EXPLAIN (VERBOSE, COSTS OFF) UPDATE cf.account_tokens SET status = 'active' WHERE id = :'t1';
