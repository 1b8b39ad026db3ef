-- Whether an active endpoint (an admin's webhook, an agent bot's) subscribes to an event name
-- (app/webhooks/sql.py): the SQL that stores an on_demand event asks it in the same statement
-- (app.events.sql.stored_if). The endpoints are a handful of rows: a scan is cheap.
CREATE OR REPLACE FUNCTION chatcentre_event_subscribed(p_name text)
RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE is_active AND p_name = ANY (events))
$fn$;
