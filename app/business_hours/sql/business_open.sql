-- Is the team open at p_at? No team or no schedule: always open.
CREATE OR REPLACE FUNCTION chatcentre_business_open(p_team_id bigint, p_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT NOT EXISTS (SELECT 1 FROM business_hours h WHERE h.team_id = p_team_id)
        OR EXISTS (SELECT 1 FROM chatcentre_open_intervals(p_team_id, p_at, p_at) o
                   WHERE o.opens <= p_at AND p_at < o.closes)
$fn$;
