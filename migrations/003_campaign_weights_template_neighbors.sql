-- 003: Thompson-sampling weight history for campaigns; precomputed template neighbours for the
-- Recommend node (lib/db/campaigns.ts, lib/db/recommendations.ts). Never edit once released.

-- ───────────────────────────── campaign weights ─────────────────────────────
-- In Thompson mode the traffic split changes over time. Every allocation ever used is kept, and
-- each assignment records the allocation it was drawn from, so the SRM check can compare the
-- units per variant with the split that was actually in force (Σ over periods of units × weights)
-- instead of raising a false alarm whenever the bandit moved traffic.
CREATE TABLE campaign_weights (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	campaign_id uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
	weights     double precision[] NOT NULL,   -- one per variant, in campaign_variants.position order
	basis       jsonb NOT NULL DEFAULT '{}',    -- the aggregates the allocation was computed from
	computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_weights_latest ON campaign_weights (campaign_id, id DESC);

-- NULL for fixed-split campaigns (their expected split is campaign_variants.weight).
ALTER TABLE campaign_assignments ADD COLUMN weights_id bigint REFERENCES campaign_weights (id) ON DELETE CASCADE;
CREATE INDEX campaign_assignments_weights ON campaign_assignments (campaign_id, weights_id, variant_id)
	WHERE weights_id IS NOT NULL;

-- ───────────────────────────── template neighbours ─────────────────────────────
-- Top-K most similar templates per template, rebuilt wholesale by "Refresh Similarities"
-- (item-item similarity over ratings blended with tag/category similarity). A derived cache:
-- no foreign keys (a rebuild inserts hundreds of thousands of rows; readers join templates and
-- skip archived or deleted ones anyway).
CREATE TABLE template_neighbors (
	template_id   uuid NOT NULL,
	neighbor_id   uuid NOT NULL,
	score         double precision NOT NULL,           -- cf_score + content weight × content_score
	cf_score      double precision NOT NULL DEFAULT 0, -- shrunk rating similarity
	content_score double precision NOT NULL DEFAULT 0, -- Jaccard over tags + category
	co_raters     integer NOT NULL DEFAULT 0,          -- users who rated both
	PRIMARY KEY (template_id, neighbor_id),
	CHECK (template_id <> neighbor_id)
);

-- One row: when the neighbours were last rebuilt and how (staleness check, reports).
CREATE TABLE template_neighbors_refresh (
	id           boolean PRIMARY KEY DEFAULT true CHECK (id),
	refreshed_at timestamptz NOT NULL,
	duration_ms  integer NOT NULL,
	templates    integer NOT NULL,
	pairs        bigint NOT NULL,
	ratings      bigint NOT NULL,
	parameters   jsonb NOT NULL DEFAULT '{}'
);
