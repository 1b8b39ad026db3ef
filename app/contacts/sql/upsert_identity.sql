-- One sender's identity and contact, created or refreshed in one call (app/contacts/sql.py):
-- the ingest's first step; opening a widget session calls it alone. A new contact is stored
-- as contact.created in domain_events (its payload written from app/events/types.py) while a
-- webhook endpoint subscribes to it (app.events.sql.stored_if).
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
        INSERT INTO domain_events (name, version, aggregate, aggregate_id, payload)
        SELECT {{CONTACT_CREATED}}, o_contact_id, {{CONTACT_CREATED_PAYLOAD}}
        WHERE {{CONTACT_CREATED_STORED}};
    END IF;
END
$fn$;
