-- When the off-hours period that p_at falls in began (the last closing before it): the key of
-- the out-of-office reply's once-per-period claim. NULL when the team is open at p_at; the
-- epoch when no opening closed in the last {{HORIZON_WEEKS}} weeks.
CREATE OR REPLACE FUNCTION chatcentre_business_closed_since(p_team_id bigint, p_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_to timestamptz := p_at;
    v_last timestamptz;
BEGIN
    IF chatcentre_business_open(p_team_id, p_at) THEN
        RETURN NULL;
    END IF;
    FOR week IN 1..{{HORIZON_WEEKS}} LOOP
        SELECT max(o.closes) INTO v_last
        FROM chatcentre_open_intervals(p_team_id, v_to - interval '7 days', v_to) o
        WHERE o.closes <= p_at;
        IF v_last IS NOT NULL THEN
            RETURN v_last;
        END IF;
        v_to := v_to - interval '7 days';
    END LOOP;
    RETURN 'epoch'::timestamptz;
END
$fn$;
