-- Trigger on operators: a new operator starts with an empty load (operator_load_counts),
-- the row the load triggers keep current.
CREATE OR REPLACE FUNCTION chatcentre_open_load_count()
RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO operator_load_counts (operator_id) VALUES (NEW.id);
    RETURN NULL;
END
$fn$;
