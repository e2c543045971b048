-- pgbench custom script: a point select by a random key, checked with \gset and \if.
-- `offset` (set with -D) is 0 for a real run; a non-zero offset must make the run fail.
\set id random(1, 100)
SELECT id AS got_id, CASE WHEN v = 'val-' || id THEN 1 ELSE 0 END AS v_ok FROM pgbench_client_kv WHERE id = :id \gset
-- A wrong row aborts the client with a division by zero, so pgbench exits non-zero.
\if :got_id != :id + :offset OR :v_ok != 1
\set bad 1 / 0
\endif
