"""vouched contact details: a phone or email only ties orders to a contact when someone
vouches for it

Revision ID: 9c74d8a5cb3f
Revises: c4a7d2e9f1b3
Create Date: 2026-11-30 00:40:00.000000

contacts.phone_verified / email_verified: the value came from the provider (a WhatsApp wa_id,
a Telegram user's own shared contact) or from the business (the shop's order data, an
operator, an API key), not from what a widget visitor typed (app/contacts/identity.py).
chatcentre_upsert_identity marks what a connector hands it as vouched: a connector's
Sender.phone/email are the provider's word by contract; the widget keeps what a visitor
declares apart. Existing emails of contacts known from a widget are what visitors typed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c74d8a5cb3f"
down_revision: str | None = "c4a7d2e9f1b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = """
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
"""

_OLD_BODY = """\
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

# A connector's phone and email are the provider's word: stored as vouched, and a vouched
# value replaces one nobody vouched for.
_NEW_BODY = """\
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


def upgrade() -> None:
    for column in ("phone_verified", "email_verified"):
        op.add_column(
            "contacts",
            sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False),
        )
    # Phones so far came from providers, shops and operators only; emails from those and
    # from widget visitors, whose contacts are known by a web chat identity.
    op.execute("UPDATE contacts SET phone_verified = true WHERE phone IS NOT NULL")
    op.execute("""
        UPDATE contacts c SET email_verified = true
        WHERE c.email IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM contact_identities ci
            JOIN channel_accounts ca ON ca.id = ci.channel_account_id
            WHERE ci.contact_id = c.id AND ca.type = 'webchat')
    """)
    op.execute(_SIGNATURE + _NEW_BODY)


def downgrade() -> None:
    op.execute(_SIGNATURE + _OLD_BODY)
    op.drop_column("contacts", "email_verified")
    op.drop_column("contacts", "phone_verified")
