-- Each operator's load: open conversations against their limit, and their live base
-- against its size, from the counts the load triggers keep (operator_load_counts), read
-- in the calling statement's snapshot. The one home of "has room" and "base full":
-- routing's claim and its Python readers (routing.service.loads: the drain, manual
-- assignment, GET /routing/load) all read it.
-- Set-returning, STABLE and a single SELECT so the planner inlines it where it is called.
CREATE OR REPLACE FUNCTION chatcentre_operator_loads(p_ids bigint[])
RETURNS TABLE (id bigint, max_open integer, max_base integer, last_assigned_at timestamptz,
               open_count bigint, base_size bigint, has_room boolean, base_full boolean)
LANGUAGE sql STABLE AS $fn$
    SELECT o.id, o.max_open_conversations, o.max_base_size, o.last_assigned_at,
           n.open_conversations::bigint, n.live_base::bigint,
           n.open_conversations < o.max_open_conversations, n.live_base >= o.max_base_size
    FROM operators o
    JOIN operator_load_counts n ON n.operator_id = o.id
    WHERE o.id = ANY(p_ids)
$fn$;
