-- A job's options are fields, not labels: the pool a job is pinned to has a
-- column (the fleet counts pinned jobs per pool), and jobs and schedules
-- written with the labels berth.pool and berth.start-budget carry them as
-- the fields pool and start_budget instead.
ALTER TABLE jobs ADD COLUMN pool TEXT NOT NULL DEFAULT '';

UPDATE jobs SET spec = json_set(json_remove(spec, '$.labels."berth.pool"'), '$.pool', json_extract(spec, '$.labels."berth.pool"'))
	WHERE json_extract(spec, '$.labels."berth.pool"') IS NOT NULL;
UPDATE jobs SET spec = json_set(json_remove(spec, '$.labels."berth.start-budget"'), '$.start_budget', json_extract(spec, '$.labels."berth.start-budget"'))
	WHERE json_extract(spec, '$.labels."berth.start-budget"') IS NOT NULL;
UPDATE jobs SET spec = json_remove(spec, '$.labels') WHERE json_extract(spec, '$.labels') = '{}';
UPDATE jobs SET pool = COALESCE(json_extract(spec, '$.pool'), '');
DELETE FROM job_labels WHERE key IN ('berth.pool', 'berth.start-budget');

UPDATE schedules SET spec = json_set(json_remove(spec, '$.job.labels."berth.pool"'), '$.job.pool', json_extract(spec, '$.job.labels."berth.pool"'))
	WHERE json_extract(spec, '$.job.labels."berth.pool"') IS NOT NULL;
UPDATE schedules SET spec = json_set(json_remove(spec, '$.job.labels."berth.start-budget"'), '$.job.start_budget', json_extract(spec, '$.job.labels."berth.start-budget"'))
	WHERE json_extract(spec, '$.job.labels."berth.start-budget"') IS NOT NULL;

CREATE INDEX jobs_pool ON jobs (pool) WHERE pool != '';
