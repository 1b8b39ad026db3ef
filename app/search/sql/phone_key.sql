-- A phone as its digits, a Russian trunk 8 read as the country code 7: "+7 916 123-45-67",
-- "8 (916) 123-45-67" and "79161234567" are all 79161234567 (app/search/sql.py). The one
-- rule: the contacts' phone index and every search call it. ix_contacts_phone_key depends on
-- it, so a change needs a migration that drops and rebuilds that index.
CREATE OR REPLACE FUNCTION chatcentre_phone_key(p_phone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT regexp_replace(regexp_replace(p_phone, '\D', '', 'g'), '^8(\d{10})$', '7\1')
$fn$;
