-- A message's text as the full-text search sees it (app/search/sql.py). ix_messages_search
-- depends on it: a change needs a migration that drops and rebuilds that index.
CREATE OR REPLACE FUNCTION chatcentre_search_document(p_text text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT to_tsvector({{CONFIG}}, coalesce(p_text, ''))
$fn$;
