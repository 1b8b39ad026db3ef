-- Record an assignment (the caller holds the conversation's row and the operator's, and
-- checked their room): the conversation leaves the queue, forgets who declined it, and its
-- answer clock starts when the client's last message waits for a person
-- (chatcentre_response_due_at); the operator's turn moves (last_assigned_at). With
-- p_claims_lead a client nobody owns becomes the operator's unless their live base is full
-- (routing and the queue's drain; a manual assignment or an escalation claims no one).
-- In the same call, so that the operator's row is held for no round trip more: the touch in
-- the client's history (kind assignment, chatcentre_record_touchpoint) and the stored
-- conversation.assigned (its payload from app/events/types.py), returned in o_event for the
-- caller to raise with stored=True.
-- Returns the previous assignee, the conversation's contact and the event.
CREATE OR REPLACE FUNCTION chatcentre_assign_conversation(
    p_conversation_id bigint, p_operator_id bigint, p_now timestamptz, p_claims_lead boolean,
    p_reason text, p_by bigint, p_note text,
    p_actor_kind text,  -- the stored event's actor_kind (app.events.dispatch.actor_kind)
    OUT o_previous_assignee_id bigint, OUT o_contact_id bigint, OUT o_event jsonb)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_channel text;
BEGIN
    SELECT cv.assignee_id, cv.contact_id, ch.type INTO o_previous_assignee_id, o_contact_id, v_channel
    FROM conversations cv JOIN channel_accounts ch ON ch.id = cv.channel_account_id
    WHERE cv.id = p_conversation_id;
    UPDATE conversations cv SET
        assignee_id = p_operator_id,
        assigned_at = p_now,
        declined_by = NULL,
        queued_at = NULL,
        queue_alerted_at = NULL,
        response_due_at = CASE WHEN {{AWAITING_REPLY_CV}}
            THEN (SELECT d.due_at FROM chatcentre_response_due_at(cv.team_id, p_now) d) END
    WHERE cv.id = p_conversation_id;
    UPDATE operators SET last_assigned_at = p_now WHERE id = p_operator_id;
    IF p_claims_lead THEN
        UPDATE contacts ct SET owner_id = p_operator_id
        WHERE ct.id = o_contact_id AND ct.owner_id IS NULL
          AND NOT (SELECT l.base_full FROM chatcentre_operator_loads(ARRAY[p_operator_id]) l);
    END IF;
    PERFORM chatcentre_record_touchpoint(
        o_contact_id, p_conversation_id, NULL, p_operator_id, NULL, v_channel, 'internal',
        {{ASSIGNMENT_TOUCH}}, NULL, NULL, NULL, NULL,
        jsonb_build_object('from', o_previous_assignee_id, 'to', p_operator_id,
                           'reason', p_reason, 'by', p_by, 'note', p_note),
        p_now);
    o_event := {{ASSIGNED_PAYLOAD}};
    INSERT INTO domain_events (name, version, aggregate, aggregate_id, actor_kind, actor_id,
                               payload)
    VALUES ({{ASSIGNED}}, p_conversation_id, p_actor_kind, p_by, o_event);
END
$fn$;
