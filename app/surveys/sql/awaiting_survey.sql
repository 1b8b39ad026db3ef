-- The survey a rating from this client answers, as its conversation's id: the survey of the
-- given conversation (the one open on this channel) if it still waits for an answer; without
-- a conversation, the client's latest survey on this channel still waiting. "Waiting" means
-- unanswered and sent less than p_window_hours ago (the channel's csat_window_hours).
-- Set-returning, STABLE and a single SELECT so the planner inlines it where it is called in FROM.
CREATE OR REPLACE FUNCTION chatcentre_awaiting_survey(
    p_contact_id bigint, p_channel_id bigint, p_conversation_id bigint,
    p_now timestamptz, p_window_hours integer)
RETURNS TABLE (survey_conversation_id bigint)
LANGUAGE sql STABLE AS $fn$
    SELECT s.conversation_id FROM surveys s
    WHERE p_conversation_id IS NOT NULL AND s.conversation_id = p_conversation_id
      AND s.answered_at IS NULL
      AND s.sent_at > p_now - make_interval(hours => p_window_hours)
    UNION ALL
    (SELECT s.conversation_id FROM surveys s
     WHERE p_conversation_id IS NULL
       AND s.contact_id = p_contact_id AND s.channel_account_id = p_channel_id
       AND s.answered_at IS NULL
       AND s.sent_at > p_now - make_interval(hours => p_window_hours)
     ORDER BY s.sent_at DESC LIMIT 1)
$fn$;
