-- A week of runner passes (scratch database only: it empties
-- queue_job_sh_pass first), as a runner cron busy in Odoo's cron loops
-- records them: a pass every 5 s, 120 960 in all (passes older than 7 days
-- are deleted by the autovacuum).
-- Usage, after gen_1m_jobs.sql: psql DB -f gen_week_of_passes.sql
\set ON_ERROR_STOP 1
TRUNCATE queue_job_sh_pass;
INSERT INTO queue_job_sh_pass (cron_id, pid, started_at, ended_at, end_reason,
  done_count, failed_count, retried_count, recovered_count)
SELECT cron.id, 4242, started, started + interval '5 seconds', 'yielded',
  9, (g % 50 = 0)::int, (g % 20 = 0)::int, 0
FROM (SELECT id FROM ir_cron WHERE cron_name LIKE 'Job Queue: runner%'
       ORDER BY id LIMIT 1) cron,
     generate_series(1, 120960) g,
     LATERAL (SELECT now() AT TIME ZONE 'UTC' - g * interval '5 seconds' AS started) s;
VACUUM ANALYZE queue_job_sh_pass;
SELECT count(*) AS passes FROM queue_job_sh_pass;
