-- Record an assignment (the caller holds the conversation's row and the operator's, and
-- checked their room): the conversation leaves the queue, forgets who declined it, and its
-- answer clock starts when the client's last message waits for a person
-- (chatcentre_response_due_at); the operator's turn moves (last_assigned_at). With
-- p_claims_lead a client nobody owns becomes the operator's unless their live base is full
-- (routing and the queue's drain; a manual assignment or an escalation claims no one).
-- Returns the previous assignee and the conversation's contact.
CREATE OR REPLACE FUNCTION chatcentre_assign_conversation(
    p_conversation_id bigint, p_operator_id bigint, p_now timestamptz, p_claims_lead boolean,
    OUT o_previous_assignee_id bigint, OUT o_contact_id bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
    SELECT cv.assignee_id, cv.contact_id INTO o_previous_assignee_id, o_contact_id
    FROM conversations cv WHERE cv.id = p_conversation_id;
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
END
$fn$;
