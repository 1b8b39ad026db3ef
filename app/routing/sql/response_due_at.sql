-- When an assignee's answer is due for a conversation of this team: its response target, or
-- the built-in default (routing.service.DEFAULT_POLICY), counted in open time where the team's
-- business hours say so (chatcentre_business_due_at). The rule's one home: the ingest starts
-- the clock with it, routing.service.assign sets it on an assignment. Set-returning (one row),
-- STABLE and a single SELECT so the planner inlines it where it is called in FROM.
CREATE OR REPLACE FUNCTION chatcentre_response_due_at(p_team_id bigint, p_now timestamptz)
RETURNS TABLE (due_at timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN bh.business_time_only
                THEN chatcentre_business_due_at(p_team_id, p_now, target.secs)
                ELSE p_now + make_interval(secs => target.secs) END
    FROM (SELECT COALESCE(
            (SELECT t.response_target_seconds FROM teams t WHERE t.id = p_team_id),
            {{DEFAULT_TARGET}})::double precision AS secs) target
    LEFT JOIN business_hours bh ON bh.team_id = p_team_id
$fn$;
