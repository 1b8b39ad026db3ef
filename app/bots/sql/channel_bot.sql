-- The active agent bot that answers a channel's new conversations, or NULL. The rule's one
-- home: the ingest's statement opens a conversation with the bot (status bot) when there is
-- one, so routing leaves it alone until the handoff.
CREATE OR REPLACE FUNCTION chatcentre_channel_bot(p_channel_id bigint)
RETURNS bigint
LANGUAGE sql STABLE AS $fn$
    SELECT b.id FROM agent_bot_channels bc JOIN agent_bots b ON b.id = bc.agent_bot_id
    WHERE bc.channel_account_id = p_channel_id AND b.is_active
    LIMIT 1
$fn$;
