-- Claim an operator for a conversation: lock their row, then check from counts taken after
-- the lock (a new statement, so a new snapshot: every assignment committed before the lock
-- is counted) that they are still online, active and have room, and, for a new lead, room
-- in their live base. Two routings can therefore never both fill the same last slot.
-- 'fit': the row stays locked until the transaction ends; 'stale': it was locked but they
-- cannot take it, and the lock is given back with the block's subtransaction, so a routing
-- never holds an operator it did not choose while it waits (no lock cycles); 'busy':
-- another transaction holds the row (without p_wait, SKIP LOCKED) or it is gone.
CREATE OR REPLACE FUNCTION chatcentre_claim_operator(
    p_operator_id bigint, p_new_lead boolean, p_wait boolean)
RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    v_fits boolean;
BEGIN
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
        RAISE EXCEPTION USING ERRCODE = 'CCR01';  -- gives the row lock back
    EXCEPTION WHEN SQLSTATE 'CCR01' THEN
        RETURN 'stale';
    END;
END
$fn$;
