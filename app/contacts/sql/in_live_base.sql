-- Whether a contact counts in its owner's live base (DOMAIN.md: 300-500 clients a manager
-- works): owned and not lost. The rule's one home (app/contacts/sql.py): routing's base limit,
-- the cadence, base health and quotas all call it. IMMUTABLE and a single expression, so the
-- planner inlines it (an index on owner_id still serves the caller's own owner condition).
CREATE OR REPLACE FUNCTION chatcentre_in_live_base(p_owner_id bigint, p_stage text)
RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT p_owner_id IS NOT NULL AND p_stage IS DISTINCT FROM {{LOST}}
$fn$;
