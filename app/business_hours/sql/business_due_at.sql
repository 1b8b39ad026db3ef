-- The instant p_seconds of open time after p_start: a week of the schedule at a time, for up
-- to {{HORIZON_WEEKS}} weeks. No schedule, or no open time in that horizon: plain time (a
-- schedule without hours must not hide every missed answer).
CREATE OR REPLACE FUNCTION chatcentre_business_due_at(
    p_team_id bigint, p_start timestamptz, p_seconds double precision)
RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_left double precision := p_seconds;
    v_from timestamptz := p_start;
    v_to timestamptz;
    v_open timestamptz;
    v_avail double precision;
    r record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM business_hours h WHERE h.team_id = p_team_id) THEN
        RETURN p_start + make_interval(secs => p_seconds);
    END IF;
    FOR week IN 1..{{HORIZON_WEEKS}} LOOP
        v_to := v_from + interval '7 days';
        FOR r IN SELECT o.opens, o.closes
                 FROM chatcentre_open_intervals(p_team_id, v_from, v_to) o
                 WHERE o.opens < v_to LOOP
            v_open := greatest(r.opens, v_from);
            v_avail := extract(epoch FROM least(r.closes, v_to) - v_open);
            IF v_avail >= v_left THEN
                RETURN v_open + make_interval(secs => v_left);
            END IF;
            v_left := v_left - v_avail;
        END LOOP;
        v_from := v_to;
    END LOOP;
    RETURN p_start + make_interval(secs => p_seconds);
END
$fn$;
