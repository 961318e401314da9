-- The reconciler looks for instances left `starting` or `stopping`; they are few, so a
-- partial index keeps that look cheap however many instances there are.
CREATE INDEX instances_unsettled ON instances (updated_at, id)
    WHERE status IN ('starting', 'stopping');
