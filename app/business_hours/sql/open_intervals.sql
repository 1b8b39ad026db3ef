-- The open intervals of a team's schedule that touch [p_from, p_to], as instants: each
-- weekday's local wall-clock interval on each local date that is not a holiday, put through
-- the team's time zone (so daylight-saving changes are PostgreSQL's tz data). A team without
-- a schedule has none (callers treat it as always open). The one home of the schedule's
-- meaning; business_open, business_seconds, business_due_at and business_closed_since read it.
CREATE OR REPLACE FUNCTION chatcentre_open_intervals(
    p_team_id bigint, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (opens timestamptz, closes timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT o.opens, o.closes
    FROM business_hours h
    CROSS JOIN LATERAL generate_series(
        ((p_from AT TIME ZONE h.timezone)::date - 1)::timestamp,
        ((p_to AT TIME ZONE h.timezone)::date + 1)::timestamp,
        interval '1 day') AS d(day)
    JOIN business_intervals i
      ON i.team_id = h.team_id AND i.weekday = extract(isodow FROM d.day)
    CROSS JOIN LATERAL (SELECT
        (d.day + make_interval(mins => i.start_minute)) AT TIME ZONE h.timezone AS opens,
        (d.day + make_interval(mins => i.end_minute)) AT TIME ZONE h.timezone AS closes) o
    WHERE h.team_id = p_team_id
      AND NOT EXISTS (SELECT 1 FROM business_holidays x
                      WHERE x.team_id = h.team_id AND x.day = d.day::date)
      AND o.closes > p_from AND o.opens <= p_to
    ORDER BY o.opens
$fn$;
