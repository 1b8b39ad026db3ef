-- The open seconds between p_from and p_to (0 when p_to <= p_from). No schedule: plain time.
CREATE OR REPLACE FUNCTION chatcentre_business_seconds(
    p_team_id bigint, p_from timestamptz, p_to timestamptz)
RETURNS double precision
LANGUAGE sql STABLE AS $fn$
    SELECT CASE
        WHEN p_to <= p_from THEN 0
        WHEN NOT EXISTS (SELECT 1 FROM business_hours h WHERE h.team_id = p_team_id)
            THEN extract(epoch FROM p_to - p_from)::double precision
        ELSE COALESCE((SELECT sum(extract(epoch FROM
                                  least(o.closes, p_to) - greatest(o.opens, p_from)))
                       FROM chatcentre_open_intervals(p_team_id, p_from, p_to) o
                       WHERE o.opens < p_to), 0)::double precision
    END
$fn$;
