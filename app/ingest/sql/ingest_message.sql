-- The whole inbound path of one message in one call (app/ingest/service.py, declared in
-- app/ingest/sql.py). In the server:
-- 1. upserts the sender's identity (chatcentre_upsert_identity); its row lock serialises one
--    sender's messages, so the find-or-open of the conversation below cannot race;
-- 2. finds the active conversation or opens one (not for a message already stored), waiting
--    in the queue for routing (step 5) or with the channel's agent bot; a rating
--    answers the survey still waiting (chatcentre_awaiting_survey) instead of opening one;
--    p_conversation_id (a mail's thread, whoever wrote it) makes that the conversation's
--    contact's, not the sender's: the message joins the matched conversation while it is
--    active, and follows its contact by the same rule once it is resolved;
-- 3. inserts the message idempotently, its touchpoint (chatcentre_record_touchpoint) and the
--    conversation's counters (a new one is inserted with them); an assignee's answer clock
--    starts (chatcentre_response_due_at);
-- 4. stores the facts in domain_events: message.created, and conversation.created when it
--    opened one (their payloads are written from the event classes in app/events/types.py;
--    the Python side raises the same events with stored=True);
-- 5. routes the conversation it opened (chatcentre_route_conversation): to an operator whose
--    row it can claim at once, or the queue when nobody can take it. It never waits for an
--    operator's row, so an operator busy elsewhere never holds a client's message; when
--    every operator with room is being claimed, the routing after the commit waits instead
--    (o_route_deferred). One transaction, one commit for a routed new lead.
-- The statuses come from app/inbox/rules.py, the touch kinds from app/touchpoints/rules.py.
CREATE OR REPLACE FUNCTION chatcentre_ingest_message(
    p_channel_id bigint, p_team_id bigint, p_channel_type text,
    p_sender_external_id text, p_username text, p_name text, p_email text, p_phone text,
    p_source text,
    p_external_id text, p_kind text, p_text text, p_attachments jsonb,
    p_sent_at timestamptz, p_meta jsonb, p_reply_to_external_id text,
    p_rating integer,          -- the message reads as a rating (1-5, a csat button); else NULL
    p_survey_button boolean,   -- it is a pressed survey button
    p_survey_window_hours integer,
    p_now timestamptz,
    p_inbound_at timestamptz,  -- when the client wrote, as the reply window counts it
    -- The conversation the message continues, whoever sent it (a colleague on CC answering
    -- a mail thread); NULL: the sender's own. The message keeps its sender's contact.
    p_conversation_id bigint,
    OUT o_identity_id bigint, OUT o_contact_id bigint, OUT o_contact_created boolean,
    OUT o_conversation_id bigint, OUT o_conversation_created boolean,
    OUT o_answers_survey boolean, OUT o_message_id bigint,
    -- The stored events' payloads (NULL: not raised), for the Python side to raise the same.
    OUT o_conversation_event jsonb, OUT o_message_event jsonb,
    -- The kinds of automatic reply the channel has texts for (most: none), so that the
    -- reply handlers need not look (app/business_hours/known_texts.py).
    OUT o_auto_reply_kinds text[],
    -- The text is an opt-out word (chatcentre_opt_out_word): false tells the opt-out
    -- handler it has nothing to do, without its own statement.
    OUT o_opt_out_word boolean,
    -- The routing of the conversation it opened (chatcentre_route_conversation, step 5):
    -- the assignee, or queued, with the stored event to raise (NULL: not routed here); the
    -- owner to tell that someone else took their client; o_route_deferred: every operator
    -- with room was being claimed, so the routing after the commit takes it.
    OUT o_route_deferred boolean, OUT o_assignee_id bigint, OUT o_route_queued boolean,
    OUT o_route_event jsonb, OUT o_notify_owner_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_survey_waits boolean;
    v_survey_id bigint;
    v_touch_kind text;
    v_inbound_at timestamptz := COALESCE(p_inbound_at, p_now);
    -- Whose conversations the message goes to: the sender's, or the matched one's contact.
    v_contact_id bigint;
    v_identity_id bigint;
    v_rating integer;
BEGIN
    SELECT u.o_identity_id, u.o_contact_id, u.o_contact_created
    INTO o_identity_id, o_contact_id, o_contact_created
    FROM chatcentre_upsert_identity(p_channel_id, p_sender_external_id, p_username, p_name,
                                    p_email, p_phone, p_source, v_inbound_at, p_now) u;
    IF p_conversation_id IS NOT NULL THEN
        SELECT cv.contact_id, cv.identity_id INTO v_contact_id, v_identity_id
        FROM conversations cv
        WHERE cv.id = p_conversation_id AND cv.channel_account_id = p_channel_id;
        -- That contact's identity lock serialises the find-or-open below, as the sender's
        -- does for the sender's own conversations.
        PERFORM 1 FROM contact_identities ci
        WHERE ci.id = v_identity_id AND ci.id <> o_identity_id FOR UPDATE;
    END IF;
    IF v_contact_id IS NULL THEN  -- no match, or its conversation is gone
        v_contact_id := o_contact_id;
        v_identity_id := o_identity_id;
    END IF;
    -- Only the conversation's own contact answers its survey (not a colleague's "5").
    v_rating := CASE WHEN v_contact_id = o_contact_id THEN p_rating END;

    WITH found AS (
        -- A rating also answers a survey asked in the open conversation itself (after a
        -- delivery, say) when that survey is the one still waiting.
        SELECT cv.id, false AS created,
               (v_rating IS NOT NULL AND EXISTS (
                   SELECT 1 FROM chatcentre_awaiting_survey(
                       v_contact_id, p_channel_id, cv.id, p_now, p_survey_window_hours)
               )) AS survey
        FROM conversations cv
        WHERE cv.contact_id = v_contact_id AND cv.channel_account_id = p_channel_id
          AND {{ACTIVE_CV}}
    ), awaiting_rating AS (
        -- A rating answers the survey of a resolved conversation instead of opening one.
        SELECT a.survey_conversation_id AS id, false AS created, true AS survey
        FROM chatcentre_awaiting_survey(
            v_contact_id, p_channel_id, NULL, p_now, p_survey_window_hours) a
        WHERE v_rating IS NOT NULL AND NOT EXISTS (SELECT 1 FROM found)
    ), opened AS (
        -- A new conversation waits for a person (queued_at) until routing, which runs
        -- after this commits, gives it to one; with an active agent bot on the channel it
        -- starts with the bot instead (chatcentre_channel_bot).
        -- It is written as it stands after its first message (one unread), so that the
        -- counters' update below leaves it alone: one row version less per new lead.
        INSERT INTO conversations
            (contact_id, channel_account_id, identity_id, team_id, status,
             last_activity_at, last_inbound_at, queued_at, unread_count)
        SELECT v_contact_id, p_channel_id, v_identity_id, p_team_id,
               CASE WHEN b.id IS NULL THEN {{OPENED}} ELSE {{WITH_BOT}} END, p_now,
               v_inbound_at, CASE WHEN b.id IS NULL THEN p_now END, 1
        FROM (SELECT chatcentre_channel_bot(p_channel_id) AS id) b
        WHERE NOT EXISTS (SELECT 1 FROM found) AND NOT EXISTS (SELECT 1 FROM awaiting_rating)
          AND NOT EXISTS (SELECT 1 FROM messages mm
                          WHERE mm.channel_account_id = p_channel_id
                            AND mm.external_id = p_external_id)
        RETURNING conversations.id, true AS created, false AS survey
    )
    SELECT x.id, x.created, x.survey INTO o_conversation_id, o_conversation_created, v_survey_waits
    FROM (SELECT * FROM found UNION ALL SELECT * FROM awaiting_rating
          UNION ALL SELECT * FROM opened) x;
    IF NOT FOUND THEN
        RETURN;  -- already stored, and its conversation is closed since
    END IF;

    -- A survey's answer is a touch of its own kind, carrying the client's reaction.
    o_answers_survey := v_rating IS NOT NULL AND (v_survey_waits OR p_survey_button);

    WITH m AS (
        INSERT INTO messages
            (conversation_id, channel_account_id, contact_id, direction, sender_type, kind,
             text, attachments, external_id, delivery_state, sent_at, meta, reply_to_id,
             created_at)
        VALUES (o_conversation_id, p_channel_id, o_contact_id, 'inbound', 'contact', p_kind,
                p_text, p_attachments, p_external_id, 'received', p_sent_at, p_meta,
                (SELECT r.id FROM messages r WHERE r.channel_account_id = p_channel_id
                                               AND r.external_id = p_reply_to_external_id),
                p_now)
        ON CONFLICT (channel_account_id, external_id) DO NOTHING
        RETURNING messages.id
    ), c AS (
        UPDATE conversations cv SET
            last_activity_at = p_now,
            last_inbound_at = GREATEST(cv.last_inbound_at, v_inbound_at),
            unread_count = cv.unread_count + 1,
            status = CASE WHEN cv.status IN {{REOPEN_ON_INBOUND}} THEN {{OPENED}}
                          ELSE cv.status END,
            snoozed_until = NULL,
            -- The assignee's answer clock starts at the first unanswered message.
            response_due_at = COALESCE(cv.response_due_at,
                CASE WHEN cv.assignee_id IS NOT NULL AND {{ACTIVE_CV}} THEN
                    (SELECT d.due_at FROM chatcentre_response_due_at(cv.team_id, p_now) d)
                END)
        WHERE cv.id = o_conversation_id AND NOT o_conversation_created
          AND EXISTS (SELECT 1 FROM m)
    )
    SELECT m.id INTO o_message_id FROM m;
    IF o_message_id IS NULL THEN
        RETURN;  -- a redelivery: nothing changed
    END IF;
    o_auto_reply_kinds := ARRAY(
        SELECT DISTINCT t.kind FROM auto_reply_texts t WHERE t.channel_account_id = p_channel_id);
    o_opt_out_word := chatcentre_opt_out_word(p_text);

    IF o_answers_survey THEN
        v_touch_kind := {{SURVEY_ANSWER_TOUCH}};
        SELECT s.id INTO v_survey_id FROM surveys s
        WHERE s.conversation_id = o_conversation_id AND s.answered_at IS NULL;
    ELSE
        v_touch_kind := {{INBOUND_TOUCH_CASE}};
    END IF;
    -- A touch of the conversation's client, whoever of their side wrote.
    PERFORM chatcentre_record_touchpoint(
        v_contact_id, o_conversation_id, o_message_id, NULL, NULL, p_channel_type, 'inbound',
        v_touch_kind, CASE WHEN o_answers_survey THEN chatcentre_reaction_for(v_rating) END,
        NULL, NULL, NULL, NULL, p_now);

    IF o_conversation_created THEN
        o_conversation_event := {{CONVERSATION_CREATED_PAYLOAD}};
    END IF;
    o_message_event := {{MESSAGE_CREATED_PAYLOAD}};
    INSERT INTO domain_events (name, version, aggregate, aggregate_id, payload)
    SELECT {{CONVERSATION_CREATED}}, o_conversation_id, o_conversation_event
    WHERE o_conversation_created
    UNION ALL
    SELECT {{MESSAGE_CREATED}}, o_message_id, o_message_event;

    IF o_conversation_created THEN
        SELECT r.o_deferred, r.o_assignee_id, r.o_queued, r.o_event, r.o_notify_owner_id
        INTO o_route_deferred, o_assignee_id, o_route_queued, o_route_event, o_notify_owner_id
        FROM chatcentre_route_conversation(
            o_conversation_id, '{}', true, p_now, false, NULL, false) r;
    END IF;
END
$fn$;
