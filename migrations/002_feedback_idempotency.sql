-- 002: what lib/db/feedback.ts needs to record a rating in ONE statement that stays exact under
-- concurrent writers and retries.

-- The rating a replacement overwrote. It is set inside INSERT ... ON CONFLICT DO UPDATE from the
-- locked, newest version of the row (`previous_rating = feedback.rating`), so the aggregates can
-- move by the delta even when a concurrent writer replaced the rating after our snapshot was taken.
-- NULL on a row that was only ever inserted.
ALTER TABLE feedback ADD COLUMN previous_rating smallint CHECK (previous_rating BETWEEN 1 AND 5);

-- Every explicit idempotency key ever accepted, not only the one on the current feedback row.
-- feedback.idempotency_key holds the key of the latest rating; without this ledger a webhook
-- retried after the user had already re-rated would look new and flip the rating back.
-- INSERT ... ON CONFLICT DO NOTHING on this table is the gate: two writers with the same key
-- serialise here, the second sees the conflict and changes nothing.
CREATE TABLE feedback_idempotency_keys (
	idempotency_key text PRIMARY KEY,
	execution_id    uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
	user_id         text NOT NULL,
	rating          smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
	created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_idempotency_keys_execution ON feedback_idempotency_keys (execution_id);

-- Keys of feedback written before this migration.
INSERT INTO feedback_idempotency_keys (idempotency_key, execution_id, user_id, rating, created_at)
SELECT idempotency_key, execution_id, user_id, rating, created_at FROM feedback
ON CONFLICT (idempotency_key) DO NOTHING;
