-- The client's reaction a CSAT rating stands for (touchpoints.rules.REACTION_BY_RATING).
-- Immutable and a bare expression, so the planner inlines it.
CREATE OR REPLACE FUNCTION chatcentre_reaction_for(p_rating integer)
RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT {{REACTION_CASE}}
$fn$;
