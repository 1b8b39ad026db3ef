-- Trigger on conversations: keeps operator_load_counts.open_conversations equal to each
-- operator's assigned conversations that are not closed. Fired only when the assignee or
-- the status may have changed (its triggers' WHEN clauses, app/routing/sql.py).
CREATE OR REPLACE FUNCTION chatcentre_count_open_conversations()
RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_old bigint;
    v_new bigint;
BEGIN
    IF TG_OP <> 'INSERT' AND {{ACTIVE_OLD}} THEN
        v_old := OLD.assignee_id;
    END IF;
    IF TG_OP <> 'DELETE' AND {{ACTIVE_NEW}} THEN
        v_new := NEW.assignee_id;
    END IF;
    IF v_old IS DISTINCT FROM v_new THEN
        PERFORM chatcentre_shift_load(v_old, v_new, 1, 0);
    END IF;
    RETURN NULL;
END
$fn$;
