"""whatsapp correctness: the reply window from the client's timestamp, reachable again when
the client writes, deleted messages, statuses that arrive before their send is recorded

Revision ID: 973357ac19b8
Revises: 5e0b7a3c9d21
Create Date: 2026-11-30 00:30:00.000000

- chatcentre_upsert_identity / chatcentre_ingest_message: last_inbound_at is the time the
  caller gives (on WhatsApp the client's own timestamp: WhatsAppPlugin.inbound_at in
  app/whatsapp/plugin.py) and never moves back, so a redelivered or late old message does not
  reopen the 24-hour window; an identity marked unreachable (131026) is reachable again when
  the client writes anew.
- messages.deleted_at: the sender deleted the message for everyone (WhatsApp revoke).
- pending_statuses: a status callback for a provider message id we have not
  recorded yet (the provider answered the webhook before our send's HTTP answer was
  committed); applied when the send is recorded, dropped when old.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "973357ac19b8"
down_revision: str | None = "5e0b7a3c9d21"
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
            -- The client's own time of writing; a redelivered old message moves nothing.
            last_inbound_at = GREATEST(ci.last_inbound_at, EXCLUDED.last_inbound_at),
            -- Writing again after a failed send (WhatsApp 131026, a blocked bot) proves
            -- the person reachable once more.
            reachable = ci.reachable OR COALESCE(
                EXCLUDED.last_inbound_at > ci.last_inbound_at,
                EXCLUDED.last_inbound_at IS NOT NULL),
            unreachable_reason = CASE WHEN ci.reachable OR COALESCE(
                EXCLUDED.last_inbound_at > ci.last_inbound_at,
                EXCLUDED.last_inbound_at IS NOT NULL)
                THEN ci.unreachable_reason END,
            username = COALESCE(EXCLUDED.username, ci.username),
            display_name = COALESCE(EXCLUDED.display_name, ci.display_name)
        RETURNING ci.id, ci.contact_id, (xmax = 0) AS inserted
    ), touched AS (
        -- A known contact is refreshed in the same statement; a new one is inserted next.
        UPDATE contacts c SET last_seen_at = p_now,
            -- A connector's phone and email are the provider's word: stored as vouched,
            -- and a vouched value replaces one nobody vouched for (9c74d8a5cb3f).
            phone = CASE WHEN p_phone IS NOT NULL AND NOT c.phone_verified
                         THEN p_phone ELSE c.phone END,
            phone_verified = c.phone_verified OR p_phone IS NOT NULL,
            email = CASE WHEN p_email IS NOT NULL AND NOT c.email_verified
                         THEN p_email ELSE c.email END,
            email_verified = c.email_verified OR p_email IS NOT NULL,
            name = COALESCE(c.name, p_name), source = COALESCE(c.source, p_source)
        FROM ci WHERE c.id = ci.contact_id AND NOT ci.inserted
    )
    SELECT ci.id, ci.contact_id, ci.inserted
    INTO o_identity_id, o_contact_id, o_contact_created FROM ci;

    IF o_contact_created THEN
        INSERT INTO contacts (id, name, email, phone, source, last_seen_at,
                              phone_verified, email_verified)
        VALUES (o_contact_id, p_name, p_email, p_phone, p_source, p_now,
                p_phone IS NOT NULL, p_email IS NOT NULL);
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
    p_inbound_at timestamptz,  -- when the client wrote, as the reply window counts it
    OUT o_identity_id bigint, OUT o_contact_id bigint, OUT o_contact_created boolean,
    OUT o_conversation_id bigint, OUT o_conversation_created boolean,
    OUT o_answers_survey boolean, OUT o_message_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_survey_waits boolean;
    v_inbound_at timestamptz := COALESCE(p_inbound_at, p_now);
BEGIN
    SELECT u.o_identity_id, u.o_contact_id, u.o_contact_created
    INTO o_identity_id, o_contact_id, o_contact_created
    FROM chatcentre_upsert_identity(p_channel_id, p_sender_external_id, p_username, p_name,
                                    p_email, p_phone, p_source, v_inbound_at, p_now) u;

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
        SELECT o_contact_id, p_channel_id, o_identity_id, p_team_id, 'open', p_now, v_inbound_at
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
            last_activity_at = p_now,
            last_inbound_at = GREATEST(cv.last_inbound_at, v_inbound_at),
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
    op.execute("DROP FUNCTION chatcentre_ingest_message")  # it takes one more argument now
    op.execute(INGEST_MESSAGE)
    op.add_column("messages", sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.create_table(
        "pending_statuses",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "channel_account_id",
            sa.BigInteger(),
            sa.ForeignKey("channel_accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("provider_message_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_title", sa.Text()),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint(
            "channel_account_id",
            "provider_message_id",
            "state",
            name="uq_pending_statuses_channel_account_id",
        ),
    )
    op.create_index("ix_pending_statuses_received_at", "pending_statuses", ["received_at"])
    # Status callbacks find their message by the provider's id (a scan of all messages
    # before this index).
    op.create_index(
        "ix_messages_provider_message_id",
        "messages",
        ["channel_account_id", "provider_message_id"],
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_provider_message_id", table_name="messages")
    op.drop_table("pending_statuses")
    op.drop_column("messages", "deleted_at")
    # The functions go back to the previous revision's bodies.
    from importlib import import_module

    previous = import_module("migrations.versions.2026-11-23-1600_ingest_functions")
    vouched = import_module("migrations.versions.2026-11-30-0010_vouched_contact_details")
    op.execute(vouched._SIGNATURE + vouched._NEW_BODY)
    op.execute("DROP FUNCTION chatcentre_ingest_message")
    op.execute(previous.INGEST_MESSAGE)
