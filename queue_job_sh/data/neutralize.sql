-- A copy of the database (a staging build, `odoo neutralize`) must not call
-- production's webhook receivers, sign as production, nor accept production's
-- monitoring credential: the webhook URLs, their switch for staging and
-- development, the webhooks' signing key (a new one is made at the next
-- webhook or upgrade) and the monitoring token (made again when missing).
DELETE FROM ir_config_parameter
 WHERE key IN (
       'queue_job_sh.ip_change.webhook_urls',
       'queue_job_sh.ip_change.webhook_on_simulation',
       'queue_job_sh.ip_change.webhook_secret',
       'queue_job_sh.monitoring_token'
);

-- The reactions to IP changes and their webhooks still to run came along
-- with production's data: they are not the copy's to run.
UPDATE queue_job
   SET state = 'cancelled',
       date_cancelled = now() AT TIME ZONE 'UTC'
 WHERE model_name = 'queue.job.sh.ip.change'
   AND state IN ('wait_dependencies', 'pending', 'enqueued', 'started');
