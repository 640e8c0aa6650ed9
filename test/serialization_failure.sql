-- serialization_failure.sql - run by sql/concurrent_sessions.sql in a psql
-- of its own, whose messages it sorts: the ERROR of a failed COMMIT and the
-- WARNING that follows it reach psql in one read or in two, so their order
-- on the screen varies.  A deferred creation, then a serialization failure
-- at COMMIT (write skew with a second session, which commits first).
SELECT dblink_connect('skew',
         format('dbname=%s host=%s port=%s', current_database(),
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'))) AS connected;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SET LOCAL cfiam.write_mode = deferred;
SELECT on_call FROM duty WHERE k = 2;
SELECT dblink_exec('skew', 'BEGIN ISOLATION LEVEL SERIALIZABLE');
SELECT * FROM dblink('skew', 'SELECT on_call FROM duty WHERE k = 1') AS t(on_call boolean);
SELECT dblink_exec('skew', 'UPDATE duty SET on_call = false WHERE k = 2');
UPDATE duty SET on_call = false WHERE k = 1;
INSERT INTO cf.user_groups (name) VALUES ('Created before a serialization failure');
SELECT dblink_exec('skew', 'COMMIT');
COMMIT;
