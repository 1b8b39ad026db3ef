-- Whether a client's message is one of the opt-out words (sales_settings.opt_out_words): the
-- text lowercased and trimmed of spaces and trailing punctuation ("Stop!", "СТОП."). Used by
-- the opt-out itself (app/sales/cadence_messages.py) and by the ingest's statement, which
-- tells the opt-out handler when there is nothing to do (most messages).
CREATE OR REPLACE FUNCTION chatcentre_opt_out_word(p_text text)
RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT EXISTS (
        SELECT 1 FROM sales_settings s
        WHERE s.opt_out_words @> to_jsonb(lower(regexp_replace(btrim(p_text),
                                                                '[[:punct:][:space:]]+$', ''))))
$fn$;
