-- A message's text cut around what matched, the matched words between p_start and p_stop
-- (app/search/sql.py), in the documents' configuration so word forms match as in the search.
CREATE OR REPLACE FUNCTION chatcentre_search_headline(
    p_text text, p_query tsquery, p_start text, p_stop text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT ts_headline({{CONFIG}}, coalesce(p_text, ''), p_query,
        'MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=2, FragmentDelimiter=" … ", '
        || 'StartSel="' || p_start || '", StopSel="' || p_stop || '"')
$fn$;
