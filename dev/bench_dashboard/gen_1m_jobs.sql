-- Fill queue_job with 1 000 000 jobs (scratch database only: it TRUNCATEs
-- queue_job first). Usage: psql DB -f gen_1m_jobs.sql
-- 1M jobs of a busy week: 940k done (about 5600 in the last hour), a backlog
-- of 30k ready and 10k waiting, 10k failed, 5k cancelled, a few running.
\set ON_ERROR_STOP 1
ALTER TABLE queue_job DISABLE TRIGGER queue_job_notify;
TRUNCATE queue_job CASCADE;
CREATE TEMP TABLE spec(state text, n int, kind text);
INSERT INTO spec VALUES ('done', 940000, 'done'), ('pending', 30000, 'ready'),
  ('pending', 10000, 'eta'), ('failed', 10000, 'old'), ('cancelled', 5000, 'old'),
  ('wait_dependencies', 4984, 'old'), ('started', 8, 'run'), ('enqueued', 8, 'run');
INSERT INTO queue_job (uuid, user_id, company_id, state, name, model_name, method_name,
  channel, priority, retry, max_retries, date_created, eta, date_enqueued, date_started, date_done, records, args, kwargs)
SELECT gen_random_uuid()::text, 2, 1, spec.state, 'bench job', 'res.partner', 'exists',
  'root.ch' || lpad(((g % 20) + 1)::text, 2, '0'), 10, 0, 5,
  created, CASE WHEN kind = 'eta' THEN now() AT TIME ZONE 'UTC' + random() * interval '2 hours' END,
  CASE WHEN kind IN ('done', 'run') THEN created + interval '1 second' END,
  CASE WHEN kind IN ('done', 'run') THEN created + random() * random() * interval '30 seconds' END,
  CASE WHEN kind = 'done' THEN created + interval '35 seconds' END,
  '{}'::jsonb, '[]'::jsonb, '{}'::jsonb
FROM spec, generate_series(1, spec.n) g,
LATERAL (SELECT now() AT TIME ZONE 'UTC' + g * interval '0' - CASE kind WHEN 'done' THEN random() * interval '7 days'
                WHEN 'ready' THEN random() * interval '2 hours' WHEN 'run' THEN random() * interval '1 minute'
                ELSE random() * interval '7 days' END AS created) c;
ALTER TABLE queue_job ENABLE TRIGGER queue_job_notify;
VACUUM ANALYZE queue_job;
SELECT state, count(*) FROM queue_job GROUP BY 1 ORDER BY 1;
