-- 004: per-user generation quotas (ComfyUI Execute → Generate: Max Jobs in Flight / per Day per User).
-- Never edit once released.

-- One row per user a limit was ever checked for. Admitting a job locks the user's row
-- (SELECT ... FOR UPDATE), counts that user's executions, and inserts the new execution row in the
-- same transaction, so concurrent n8n workers admit one job of a user at a time and the counts
-- they see include every job admitted before. The row holds no counters: the executions table is
-- the truth (a finished, failed or cancelled run frees its slot by its own status change).
CREATE TABLE generation_quota_users (
	user_id    text PRIMARY KEY,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- The in-flight count: a user's executions still queued or running. Partial, so it holds only the
-- few open runs and stays small however many runs finished.
CREATE INDEX executions_user_in_flight ON executions (user_id, created_at)
	WHERE status IN ('queued', 'running') AND user_id IS NOT NULL;
-- The daily count uses executions_user (user_id, created_at DESC) from 001.
