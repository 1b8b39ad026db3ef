-- Nobody took the conversation (or it was sent back): it waits unassigned. A conversation
-- already waiting keeps its place (queued_at) and its queue alert. Stores conversation.queued
-- in the same call. Returns the previous assignee and the event (for the caller to raise
-- with stored=True).
CREATE OR REPLACE FUNCTION chatcentre_enqueue_conversation(
    p_conversation_id bigint, p_now timestamptz,
    p_actor_kind text,  -- the stored event's actor_kind (app.events.dispatch.actor_kind)
    OUT o_previous_assignee_id bigint, OUT o_event jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
    SELECT cv.assignee_id INTO o_previous_assignee_id
    FROM conversations cv WHERE cv.id = p_conversation_id;
    UPDATE conversations cv SET
        assignee_id = NULL,
        assigned_at = NULL,
        response_due_at = NULL,
        queue_alerted_at = CASE WHEN cv.queued_at IS NULL THEN NULL ELSE cv.queue_alerted_at END,
        queued_at = COALESCE(cv.queued_at, p_now)
    WHERE cv.id = p_conversation_id
      -- unless it already waits as it should (a new lead nobody can take): no new row
      -- version for no change
      AND (cv.assignee_id IS NOT NULL OR cv.queued_at IS NULL OR cv.response_due_at IS NOT NULL
           OR cv.assigned_at IS NOT NULL);
    o_event := {{QUEUED_PAYLOAD}};
    INSERT INTO domain_events (name, version, aggregate, aggregate_id, actor_kind, payload)
    VALUES ({{QUEUED}}, p_conversation_id, p_actor_kind, o_event);
END
$fn$;
