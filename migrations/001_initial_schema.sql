-- 001: the whole PromptLab schema (DESIGN.md "Data model").
-- Applied by lib/db/migrator.ts inside one transaction under a Postgres advisory lock, in the
-- schema named by the credential (search_path). Never edit this file once released: add 002_...

-- ───────────────────────────── templates ─────────────────────────────
CREATE TABLE templates (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
	kind            text NOT NULL CHECK (kind IN ('image', 'text')),
	category        text,
	tags            text[] NOT NULL DEFAULT '{}',
	description     text NOT NULL DEFAULT '',
	-- Highest version number handed out. Version numbers are allocated with
	-- UPDATE ... SET latest_version = latest_version + 1 RETURNING, which row-locks the template,
	-- so concurrent "create version" calls from several n8n workers never get the same number.
	latest_version  integer NOT NULL DEFAULT 0,
	archived_at     timestamptz,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX templates_name_key ON templates (lower(name));
CREATE INDEX templates_tags_gin ON templates USING gin (tags);
CREATE INDEX templates_active_category ON templates (category, kind) WHERE archived_at IS NULL;
CREATE INDEX templates_updated_at ON templates (updated_at DESC, id);

CREATE TABLE template_versions (
	id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	template_id       uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
	version           integer NOT NULL CHECK (version > 0),
	positive_prompt   text NOT NULL DEFAULT '',
	negative_prompt   text NOT NULL DEFAULT '',
	workflow          jsonb,                 -- ComfyUI API ("prompt") format, never UI format
	workflow_checksum text,                  -- sha256 of the canonical JSON of workflow
	variables         jsonb NOT NULL DEFAULT '[]',  -- typed variable schema (lib/templates/variables.ts)
	default_params    jsonb NOT NULL DEFAULT '{}',
	commit_message    text NOT NULL DEFAULT '',
	author            text,
	created_at        timestamptz NOT NULL DEFAULT now(),
	UNIQUE (template_id, version)
);

-- Versions are immutable: a change is a new version. Enforced in the database so that no code
-- path (or hand-written SQL) can rewrite what a past execution was rendered from.
CREATE FUNCTION promptlab_forbid_version_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'template versions are immutable; create a new version instead'
		USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER template_versions_immutable BEFORE UPDATE ON template_versions
	FOR EACH ROW EXECUTE FUNCTION promptlab_forbid_version_update();

CREATE TABLE template_labels (
	template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
	label       text NOT NULL CHECK (label ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
	version_id  bigint NOT NULL REFERENCES template_versions (id),
	updated_by  text,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (template_id, label)
);

CREATE TABLE template_label_history (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	template_id  uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
	label        text NOT NULL,
	from_version integer,                    -- NULL when the label is created
	to_version   integer NOT NULL,
	moved_by     text,
	reason       text,
	moved_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_label_history_lookup ON template_label_history (template_id, label, id DESC);

-- ───────────────────────────── campaigns ─────────────────────────────
CREATE TABLE campaigns (
	id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name                   text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
	description            text NOT NULL DEFAULT '',
	status                 text NOT NULL DEFAULT 'draft'
	                       CHECK (status IN ('draft', 'running', 'paused', 'completed')),
	primary_metric         text NOT NULL DEFAULT 'good_rating_share'
	                       CHECK (primary_metric IN ('good_rating_share', 'mean_rating', 'success_rate')),
	mode                   text NOT NULL DEFAULT 'fixed' CHECK (mode IN ('fixed', 'thompson')),
	thompson_floor         double precision NOT NULL DEFAULT 0.05 CHECK (thompson_floor >= 0 AND thompson_floor < 1),
	min_sample_per_variant integer NOT NULL DEFAULT 100 CHECK (min_sample_per_variant > 0),
	seed                   text NOT NULL,    -- hashing seed: assignment = hash(seed, unit id)
	winner_variant_id      uuid,
	created_at             timestamptz NOT NULL DEFAULT now(),
	started_at             timestamptz,
	completed_at           timestamptz,
	updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX campaigns_name_key ON campaigns (lower(name));
CREATE INDEX campaigns_status ON campaigns (status, created_at DESC);

CREATE TABLE campaign_variants (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	key         text NOT NULL,               -- short stable name: 'control', 'B', ...
	position    integer NOT NULL,            -- order on the weight line used by the hash bucketing
	template_id uuid NOT NULL REFERENCES templates (id),
	version_id  bigint NOT NULL REFERENCES template_versions (id),
	label       text,                        -- label the version was resolved from, if any
	weight      double precision NOT NULL CHECK (weight >= 0),
	is_control  boolean NOT NULL DEFAULT false,
	UNIQUE (campaign_id, key),
	UNIQUE (campaign_id, position)
);
CREATE UNIQUE INDEX campaign_variants_one_control ON campaign_variants (campaign_id) WHERE is_control;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_winner_fk
	FOREIGN KEY (winner_variant_id) REFERENCES campaign_variants (id) DEFERRABLE INITIALLY DEFERRED;

-- Sticky assignment: first sight wins (INSERT ... ON CONFLICT DO NOTHING), so two workers that
-- assign the same unit at once agree on one row.
CREATE TABLE campaign_assignments (
	campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	unit_id     text NOT NULL,
	variant_id  uuid NOT NULL REFERENCES campaign_variants (id) ON DELETE CASCADE,
	assigned_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (campaign_id, unit_id)
);
CREATE INDEX campaign_assignments_variant ON campaign_assignments (variant_id);

-- ───────────────────────────── executions ─────────────────────────────
CREATE TABLE executions (
	id                uuid PRIMARY KEY,      -- generated by the client before submission (idempotency)
	source            text NOT NULL DEFAULT 'comfyui' CHECK (source IN ('comfyui', 'external')),
	template_id       uuid REFERENCES templates (id),
	version_id        bigint REFERENCES template_versions (id),
	campaign_id       uuid REFERENCES campaigns (id),
	variant_id        uuid REFERENCES campaign_variants (id),
	user_id           text,
	server            text,                  -- ComfyUI base URL the prompt ran on
	prompt_id         text,                  -- ComfyUI prompt_id (client-generated uuid)
	client_id         text,
	status            text NOT NULL DEFAULT 'queued'
	                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'lost')),
	rendered_prompt   jsonb,                 -- {positive, negative}
	variables         jsonb,
	workflow_checksum text,
	seed              bigint,
	output            jsonb,                 -- text output of external (LLM) executions, result summaries
	error             jsonb,
	n8n_execution_id  text,
	created_at        timestamptz NOT NULL DEFAULT now(),
	started_at        timestamptz,
	finished_at       timestamptz,
	duration_ms       integer CHECK (duration_ms >= 0)
);
CREATE UNIQUE INDEX executions_prompt_id_key ON executions (prompt_id) WHERE prompt_id IS NOT NULL;
CREATE INDEX executions_version_created ON executions (version_id, created_at DESC);
CREATE INDEX executions_created ON executions (created_at DESC);
CREATE INDEX executions_failures ON executions (created_at DESC) WHERE status IN ('failed', 'lost');
CREATE INDEX executions_active ON executions (server, created_at) WHERE status IN ('queued', 'running');
CREATE INDEX executions_campaign ON executions (campaign_id, variant_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX executions_user ON executions (user_id, created_at DESC) WHERE user_id IS NOT NULL;

CREATE TABLE generated_assets (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	execution_id uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
	node_id      text NOT NULL,              -- ComfyUI node that produced the file
	filename     text NOT NULL,
	subfolder    text NOT NULL DEFAULT '',
	type         text NOT NULL DEFAULT 'output',
	mime_type    text,
	bytes        bigint CHECK (bytes >= 0),
	sha256       text,
	gallery_id   text,                       -- groups assets of one product / collection
	metadata     jsonb NOT NULL DEFAULT '{}',
	created_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (execution_id, node_id, type, subfolder, filename)
);
CREATE INDEX generated_assets_gallery ON generated_assets (gallery_id, created_at) WHERE gallery_id IS NOT NULL;

-- ───────────────────────────── feedback ─────────────────────────────
CREATE TABLE feedback (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	execution_id    uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
	-- denormalised from the execution so reports, campaign results and recommendations need no join
	template_id     uuid REFERENCES templates (id),
	version_id      bigint REFERENCES template_versions (id),
	campaign_id     uuid REFERENCES campaigns (id),
	variant_id      uuid REFERENCES campaign_variants (id),
	user_id         text NOT NULL,
	rating          smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
	comment         text CHECK (comment IS NULL OR length(comment) <= 4000),
	source          text,
	idempotency_key text NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	UNIQUE (idempotency_key),
	UNIQUE (execution_id, user_id)           -- a later rating by the same user replaces the earlier one
);
CREATE INDEX feedback_user_template ON feedback (user_id, template_id, rating);
CREATE INDEX feedback_template_user ON feedback (template_id, user_id, rating);
CREATE INDEX feedback_created ON feedback (created_at DESC);
CREATE INDEX feedback_campaign ON feedback (campaign_id, variant_id, user_id) WHERE campaign_id IS NOT NULL;

-- ───────────────────────────── aggregates ─────────────────────────────
-- Per version, maintained in the same transaction as the event that changes it, so reads never
-- scan executions or feedback and concurrent writers end with exact numbers.
CREATE TABLE template_stats (
	version_id        bigint PRIMARY KEY REFERENCES template_versions (id) ON DELETE CASCADE,
	template_id       uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
	executions        bigint NOT NULL DEFAULT 0,
	succeeded         bigint NOT NULL DEFAULT 0,
	failed            bigint NOT NULL DEFAULT 0,
	cancelled         bigint NOT NULL DEFAULT 0,
	duration_ms_sum   bigint NOT NULL DEFAULT 0,
	duration_count    bigint NOT NULL DEFAULT 0,
	rating_count      bigint NOT NULL DEFAULT 0,
	rating_sum        bigint NOT NULL DEFAULT 0,
	rating_sum_sq     bigint NOT NULL DEFAULT 0,
	rating_hist       bigint[] NOT NULL DEFAULT '{0,0,0,0,0}' CHECK (cardinality(rating_hist) = 5),
	last_execution_at timestamptz,
	last_rating_at    timestamptz
);
CREATE INDEX template_stats_template ON template_stats (template_id);

-- Per campaign variant; units per variant come from campaign_assignments.
CREATE TABLE campaign_variant_stats (
	variant_id      uuid PRIMARY KEY REFERENCES campaign_variants (id) ON DELETE CASCADE,
	campaign_id     uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	executions      bigint NOT NULL DEFAULT 0,
	succeeded       bigint NOT NULL DEFAULT 0,
	failed          bigint NOT NULL DEFAULT 0,
	duration_ms_sum bigint NOT NULL DEFAULT 0,
	duration_count  bigint NOT NULL DEFAULT 0,
	rating_count    bigint NOT NULL DEFAULT 0,
	rating_sum      bigint NOT NULL DEFAULT 0,
	rating_sum_sq   bigint NOT NULL DEFAULT 0,
	good_count      bigint NOT NULL DEFAULT 0   -- ratings >= 4
);

-- Per campaign unit (user): the primary metric is "share of ratings >= 4 per unit".
CREATE TABLE campaign_unit_stats (
	campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	unit_id      text NOT NULL,
	variant_id   uuid NOT NULL REFERENCES campaign_variants (id) ON DELETE CASCADE,
	rating_count integer NOT NULL DEFAULT 0,
	rating_sum   integer NOT NULL DEFAULT 0,
	good_count   integer NOT NULL DEFAULT 0,
	PRIMARY KEY (campaign_id, unit_id)
);
CREATE INDEX campaign_unit_stats_variant ON campaign_unit_stats (variant_id);
