-- The one write path of the touchpoint log (app/touchpoints/sql.py): touchpoints.service.record()
-- and the ingest call it. Recurrence and attention follow from the kind (touchpoints.rules.SHAPES);
-- a caller's attention (a logged call's duration) wins over the kind's. Stores touchpoint.created
-- in domain_events (its payload written from app/events/types.py) in the same call, while a
-- webhook endpoint subscribes to it (app.events.sql.stored_if).
CREATE OR REPLACE FUNCTION chatcentre_record_touchpoint(
    p_contact_id bigint, p_conversation_id bigint, p_message_id bigint, p_operator_id bigint,
    p_order_id bigint, p_channel text, p_direction text, p_kind text, p_reaction text,
    p_chain text, p_step text,
    p_attention text,          -- NULL: the kind's own
    p_meta jsonb,              -- NULL: {}
    p_at timestamptz)          -- NULL: now()
RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO touchpoints
        (contact_id, conversation_id, message_id, operator_id, order_id, channel, direction,
         kind, reaction, chain, step, recurrence, attention, meta, occurred_at)
    VALUES (p_contact_id, p_conversation_id, p_message_id, p_operator_id, p_order_id,
            p_channel, p_direction, p_kind, COALESCE(p_reaction, {{UNKNOWN}}), p_chain, p_step,
            {{RECURRENCE_CASE}},
            COALESCE(p_attention, {{ATTENTION_CASE}}),
            COALESCE(p_meta, '{}'), COALESCE(p_at, now()))
    RETURNING id INTO v_id;
    INSERT INTO domain_events (name, version, aggregate, aggregate_id, payload)
    SELECT {{TOUCHPOINT_CREATED}}, v_id, {{TOUCHPOINT_CREATED_PAYLOAD}}
    WHERE {{TOUCHPOINT_CREATED_STORED}};
    RETURN v_id;
END
$fn$;
