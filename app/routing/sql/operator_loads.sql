-- Each operator's load, counted in the calling statement's snapshot: open conversations
-- against their limit, and their live base (chatcentre_in_live_base) against its size.
-- The one home of "has room" and "base full": routing's claim and its Python readers
-- (routing.service.loads: the drain, manual assignment, GET /routing/load) all read it.
-- Set-returning, STABLE and a single SELECT so the planner inlines it where it is called.
CREATE OR REPLACE FUNCTION chatcentre_operator_loads(p_ids bigint[])
RETURNS TABLE (id bigint, max_open integer, max_base integer, last_assigned_at timestamptz,
               open_count bigint, base_size bigint, has_room boolean, base_full boolean)
LANGUAGE sql STABLE AS $fn$
    SELECT o.id, o.max_open_conversations, o.max_base_size, o.last_assigned_at,
           n.open_count, n.base_size,
           n.open_count < o.max_open_conversations, n.base_size >= o.max_base_size
    FROM operators o
    CROSS JOIN LATERAL (SELECT
        (SELECT count(*) FROM conversations c
         WHERE c.assignee_id = o.id AND {{ACTIVE_C}}) AS open_count,
        (SELECT count(*) FROM contacts ct
         WHERE ct.owner_id = o.id AND chatcentre_in_live_base(ct.owner_id, ct.stage)) AS base_size
    ) n
    WHERE o.id = ANY(p_ids)
$fn$;
