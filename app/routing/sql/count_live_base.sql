-- Trigger on contacts: keeps operator_load_counts.live_base equal to the clients each
-- operator owns that count in their live base (chatcentre_in_live_base). Fired only when
-- the owner or the stage may have changed (its triggers' WHEN clauses, app/routing/sql.py).
CREATE OR REPLACE FUNCTION chatcentre_count_live_base()
RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_old bigint;
    v_new bigint;
BEGIN
    IF TG_OP <> 'INSERT' AND chatcentre_in_live_base(OLD.owner_id, OLD.stage) THEN
        v_old := OLD.owner_id;
    END IF;
    IF TG_OP <> 'DELETE' AND chatcentre_in_live_base(NEW.owner_id, NEW.stage) THEN
        v_new := NEW.owner_id;
    END IF;
    IF v_old IS DISTINCT FROM v_new THEN
        PERFORM chatcentre_shift_load(v_old, v_new, 0, 1);
    END IF;
    RETURN NULL;
END
$fn$;
