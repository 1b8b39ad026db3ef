-- Moves one unit of load from p_from to p_to (either may be NULL): p_conversations open
-- conversations and p_base clients of the live base (0 or 1 each). The two rows change in
-- id order, so two transfers in opposite directions cannot deadlock. The load triggers'
-- one writer (chatcentre_count_open_conversations, chatcentre_count_live_base).
CREATE OR REPLACE FUNCTION chatcentre_shift_load(
    p_from bigint, p_to bigint, p_conversations integer, p_base integer)
RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    v_id bigint;
    v_sign integer;
BEGIN
    FOR v_id IN
        SELECT x.id FROM unnest(ARRAY[p_from, p_to]) x(id) WHERE x.id IS NOT NULL ORDER BY x.id
    LOOP
        v_sign := CASE WHEN v_id = p_to THEN 1 ELSE -1 END;
        UPDATE operator_load_counts
        SET open_conversations = open_conversations + v_sign * p_conversations,
            live_base = live_base + v_sign * p_base
        WHERE operator_id = v_id;
    END LOOP;
END
$fn$;
