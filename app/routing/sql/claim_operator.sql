-- Claim an operator for a conversation: lock their row, then check from counts taken after
-- the lock (a new statement, so a new snapshot: every assignment committed before the lock
-- is counted) that they are still online, active and have room, and, for a new lead, room
-- in their live base. Two routings can therefore never both fill the same last slot.
-- 'fit': they can take it; 'stale': they cannot (filled up or left meanwhile); 'busy':
-- another transaction holds the row (without p_wait, SKIP LOCKED) or it is gone.
-- The lock is taken in the caller's transaction, not in a subtransaction that could give a
-- stale one back: a row locked in a subtransaction and then updated by its parent (the
-- assignment's last_assigned_at) is recorded by PostgreSQL as a MultiXact, which every
-- later reader of the row must look up; that was PostgreSQL's largest single cost of a
-- routed new lead. So a stale claim keeps its lock until the transaction ends, and marks
-- the transaction (chatcentre.holds_stale_claim): from then on it never waits for another
-- operator's row (chatcentre_route_conversation), so no lock cycle can form.
CREATE OR REPLACE FUNCTION chatcentre_claim_operator(
    p_operator_id bigint, p_new_lead boolean, p_wait boolean)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_fits boolean;
BEGIN
    IF p_wait THEN
        PERFORM 1 FROM operators o WHERE o.id = p_operator_id FOR UPDATE;
    ELSE
        PERFORM 1 FROM operators o WHERE o.id = p_operator_id FOR UPDATE SKIP LOCKED;
    END IF;
    IF NOT FOUND THEN
        RETURN 'busy';
    END IF;
    SELECT o.is_active AND o.presence = {{ONLINE}} AND l.has_room
           AND NOT (p_new_lead AND l.base_full)
    INTO v_fits
    FROM operators o JOIN chatcentre_operator_loads(ARRAY[p_operator_id]) l ON l.id = o.id
    WHERE o.id = p_operator_id;
    IF v_fits THEN
        RETURN 'fit';
    END IF;
    PERFORM set_config('chatcentre.holds_stale_claim', 'on', true);
    RETURN 'stale';
END
$fn$;
