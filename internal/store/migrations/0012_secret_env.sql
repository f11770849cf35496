-- A job's secret_env values, each sealed (AES-256-GCM, under the key the
-- server keeps in its data directory, bound to the job's id and the
-- variable's name): a JSON object of name to base64. NULL when the job
-- has none. The job's spec holds the names only, with the values hidden.
ALTER TABLE jobs ADD COLUMN secret_env TEXT;
