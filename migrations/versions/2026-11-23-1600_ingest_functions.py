"""ingest in one round trip: the inbound path's statements as two SQL functions

Revision ID: c4a7d2e9f1b3
Revises: b81d0c6e4f27
Create Date: 2026-11-23 16:00:00.000000

The ingest used to send three or four statements per message, each a round trip with its
driver and protocol cost on both sides. The same statements now run inside the server.
PL/pgSQL gives every statement a fresh snapshot (READ COMMITTED), so they keep their old
meaning: the identity's row lock still comes first and serialises one sender's messages,
and the conversation lookup after it sees what a concurrent message committed.
A later change to these bodies is a new migration with CREATE OR REPLACE.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c4a7d2e9f1b3"
down_revision: str | None = "b81d0c6e4f27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPSERT_IDENTITY = """
CREATE OR REPLACE FUNCTION chatcentre_upsert_identity(
    p_channel_id bigint, p_external_id text, p_username text, p_name text,
    p_email text, p_phone text, p_source text,
    p_inbound_at timestamptz,  -- NULL: not a message (opening a widget session, say)
    p_now timestamptz,
    OUT o_identity_id bigint, OUT o_contact_id bigint, OUT o_contact_created boolean)
LANGUAGE plpgsql AS $fn$
BEGIN
    -- The upsert's row lock serialises one sender's messages.
    WITH ci AS (
        INSERT INTO contact_identities AS ci
            (contact_id, channel_account_id, external_id, username, display_name,
             last_inbound_at)
        VALUES (nextval(pg_get_serial_sequence('contacts', 'id')), p_channel_id,
                p_external_id, p_username, p_name, p_inbound_at)
        ON CONFLICT (channel_account_id, external_id) DO UPDATE SET
            last_inbound_at = COALESCE(EXCLUDED.last_inbound_at, ci.last_inbound_at),
            username = COALESCE(EXCLUDED.username, ci.username),
            display_name = COALESCE(EXCLUDED.display_name, ci.display_name)
        RETURNING ci.id, ci.contact_id, (xmax = 0) AS inserted
    ), touched AS (
        -- A known contact is refreshed in the same statement; a new one is inserted next.
        UPDATE contacts c SET last_seen_at = p_now,
            phone = COALESCE(c.phone, p_phone), email = COALESCE(c.email, p_email),
            name = COALESCE(c.name, p_name), source = COALESCE(c.source, p_source)
        FROM ci WHERE c.id = ci.contact_id AND NOT ci.inserted
    )
    SELECT ci.id, ci.contact_id, ci.inserted
    INTO o_identity_id, o_contact_id, o_contact_created FROM ci;

    IF o_contact_created THEN
        INSERT INTO contacts (id, name, email, phone, source, last_seen_at)
        VALUES (o_contact_id, p_name, p_email, p_phone, p_source, p_now);
    END IF;
END
$fn$
"""

INGEST_MESSAGE = """
CREATE OR REPLACE FUNCTION chatcentre_ingest_message(
    p_channel_id bigint, p_team_id bigint, p_channel_type text,
    p_sender_external_id text, p_username text, p_name text, p_email text, p_phone text,
    p_source text,
    p_external_id text, p_kind text, p_text text, p_attachments jsonb,
    p_sent_at timestamptz, p_meta jsonb, p_reply_to_external_id text,
    p_is_rating boolean,       -- the message reads as a rating (1-5, a csat button)
    p_survey_button boolean,   -- it is a pressed survey button
    p_survey_window_hours integer,
    p_touch_kind text, p_recurrence text, p_attention text,                -- if no answer
    p_survey_reaction text, p_survey_recurrence text, p_survey_attention text,  -- if one
    p_default_target integer, p_now timestamptz,
    OUT o_identity_id bigint, OUT o_contact_id bigint, OUT o_contact_created boolean,
    OUT o_conversation_id bigint, OUT o_conversation_created boolean,
    OUT o_answers_survey boolean, OUT o_message_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_survey_waits boolean;
BEGIN
    SELECT u.o_identity_id, u.o_contact_id, u.o_contact_created
    INTO o_identity_id, o_contact_id, o_contact_created
    FROM chatcentre_upsert_identity(p_channel_id, p_sender_external_id, p_username, p_name,
                                    p_email, p_phone, p_source, p_now, p_now) u;

    WITH found AS (
        -- A rating also answers a survey asked in the open conversation itself (after a
        -- delivery, say) when that survey is the one still waiting.
        SELECT cv.id, false AS created,
               (p_is_rating AND EXISTS (
                   SELECT 1 FROM surveys s WHERE s.conversation_id = cv.id
                     AND s.answered_at IS NULL
                     AND s.sent_at > p_now - make_interval(hours => p_survey_window_hours)
               )) AS survey
        FROM conversations cv
        WHERE cv.contact_id = o_contact_id AND cv.channel_account_id = p_channel_id
          AND cv.status <> 'resolved'
    ), awaiting_rating AS (
        -- A rating answers the survey of a resolved conversation instead of opening one.
        SELECT s.conversation_id AS id, false AS created, true AS survey FROM surveys s
        WHERE p_is_rating AND NOT EXISTS (SELECT 1 FROM found)
          AND s.contact_id = o_contact_id AND s.channel_account_id = p_channel_id
          AND s.answered_at IS NULL
          AND s.sent_at > p_now - make_interval(hours => p_survey_window_hours)
        ORDER BY s.sent_at DESC LIMIT 1
    ), opened AS (
        INSERT INTO conversations
            (contact_id, channel_account_id, identity_id, team_id, status,
             last_activity_at, last_inbound_at)
        SELECT o_contact_id, p_channel_id, o_identity_id, p_team_id, 'open', p_now, p_now
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
    o_answers_survey := p_is_rating AND (v_survey_waits OR p_survey_button);

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
    ), tp AS (
        INSERT INTO touchpoints
            (contact_id, conversation_id, message_id, channel, direction, kind, reaction,
             recurrence, attention, occurred_at)
        SELECT o_contact_id, o_conversation_id, m.id, p_channel_type, 'inbound',
               CASE WHEN o_answers_survey THEN 'survey' ELSE p_touch_kind END,
               CASE WHEN o_answers_survey THEN p_survey_reaction ELSE 'unknown' END,
               CASE WHEN o_answers_survey THEN p_survey_recurrence ELSE p_recurrence END,
               CASE WHEN o_answers_survey THEN p_survey_attention ELSE p_attention END,
               p_now
        FROM m
    ), c AS (
        UPDATE conversations cv SET
            last_activity_at = p_now, last_inbound_at = p_now,
            unread_count = cv.unread_count + 1,
            status = CASE WHEN cv.status IN ('pending', 'snoozed') THEN 'open'
                          ELSE cv.status END,
            snoozed_until = NULL,
            -- The assignee's answer clock starts at the first unanswered message.
            response_due_at = COALESCE(cv.response_due_at,
                CASE WHEN cv.assignee_id IS NOT NULL AND cv.status <> 'resolved' THEN
                p_now + make_interval(secs => COALESCE(
                    (SELECT t.response_target_seconds FROM teams t WHERE t.id = cv.team_id),
                    p_default_target)) END)
        WHERE cv.id = o_conversation_id AND EXISTS (SELECT 1 FROM m)
    )
    SELECT m.id INTO o_message_id FROM m;
END
$fn$
"""


def upgrade() -> None:
    op.execute(UPSERT_IDENTITY)
    op.execute(INGEST_MESSAGE)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS chatcentre_ingest_message")
    op.execute("DROP FUNCTION IF EXISTS chatcentre_upsert_identity")
