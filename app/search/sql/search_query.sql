-- What a person typed as a full-text query, in the documents' configuration
-- (app/search/sql.py): words, "quoted phrases", -excluded, or.
CREATE OR REPLACE FUNCTION chatcentre_search_query(p_q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT websearch_to_tsquery({{CONFIG}}, p_q)
$fn$;
