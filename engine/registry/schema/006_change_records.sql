-- dfissue registry, schema version 6: change records and profile digests.
--
-- A journal holds, besides key-change intents, change records (format 3,
-- docs/JOURNAL.md: `type=change`, what= "lrp" for the PICC's switch to LRP,
-- "sdm:file=NN" for an SDM file's settings): intents for a card change
-- that is not a key change, answered by a commit, abort or resolve naming
-- their seq, as a key intent is. Up to version 5 the registry took key
-- intents only: a change record was never told, and the outcome of one
-- made journaled() raise, so an LRP or SDM profile could not be issued with
-- a registry. From version 6:
--
--   records.type  'change' too;
--   intents       a change intent is a row with what set and no key slot
--                 (keyno, versions and generation NULL): open until its
--                 outcome, visible to every station in lookup() and
--                 open_intents() like an open key intent, and closed by
--                 the next change intent of the same card, application and
--                 what at another station (which found the card's state
--                 by probing it, as for a key slot). Late (told without the
--                 claim, records.held false) it follows version 4's rules,
--                 matched on what instead of the key slot (apply_record;
--                 version 4's triggers see key intents only: a change row
--                 has no keyno). Its outcome moves no key slot;
--   the claim     journaled_held() checks the claim for change intents as
--                 for key intents (a card command waits on them);
--   profile       the intent's profile digest (journal field profile=, 16
--                 bytes) is kept with the intent, and each key slot keeps
--                 the digest of the intent that put it in its state, as the
--                 journal index does (engine/journal/index.c): lookup()
--                 answers it, so a tap asks the same of either backend.
--
-- The record functions take two more arrays (what, profile): the old ones
-- are dropped, a station of version 5 is refused by the version check.

ALTER TABLE records DROP CONSTRAINT records_type_check;
ALTER TABLE records ADD CONSTRAINT records_type_check
	CHECK (type IN ('intent', 'commit', 'abort', 'resolve', 'refusal', 'authorization', 'change'));

ALTER TABLE intents
	ADD COLUMN what text CHECK (what IS NULL OR length(what) BETWEEN 1 AND 31),
	ADD COLUMN profile bytea CHECK (profile IS NULL OR length(profile) = 16),
	ALTER COLUMN keyno DROP NOT NULL,
	ALTER COLUMN old_version DROP NOT NULL,
	ALTER COLUMN new_version DROP NOT NULL,
	ALTER COLUMN generation DROP NOT NULL;
ALTER TABLE intents ADD CONSTRAINT intents_kind CHECK (CASE WHEN what IS NULL
	THEN keyno IS NOT NULL AND old_version IS NOT NULL AND new_version IS NOT NULL AND generation IS NOT NULL
	ELSE keyno IS NULL AND old_version IS NULL AND new_version IS NULL AND generation IS NULL AND profile IS NULL END);

ALTER TABLE slots ADD COLUMN profile bytea CHECK (profile IS NULL OR length(profile) = 16);

DROP FUNCTION journaled_release(bytea, text, text, text, bigint[], text[], bytea[], integer[], integer[], integer[],
	integer[], bigint[], bigint[], text[], text[]);
DROP FUNCTION journaled_held(text, integer, text, text, bigint[], text[], bytea[], integer[], integer[], integer[],
	integer[], bigint[], bigint[], text[], text[]);
DROP FUNCTION journaled_held_checked(text, integer, text, text, bigint[], text[], bytea[], integer[], integer[],
	integer[], integer[], bigint[], bigint[], text[], text[]);
DROP FUNCTION journaled(text, text, bigint[], text[], bytea[], integer[], integer[], integer[], integer[], bigint[],
	bigint[], text[], text[]);
DROP FUNCTION claim_lookup(bytea, text, text, text, integer, text);
DROP FUNCTION lookup(bytea, text);

-- Version 2's apply_record keeps the key records (under a new name; the
-- record functions below call the new one); the new one adds the change
-- records and the profile digests.
ALTER FUNCTION apply_record(text, text, bigint, text, bytea, integer, integer, integer, integer, bigint, bigint, text,
	text) RENAME TO apply_key_record;

CREATE FUNCTION apply_record(p_origin text, p_station text, p_seq bigint, p_type text, p_uid bytea,
	p_aid integer, p_keyno integer, p_old integer, p_new integer, p_gen bigint, p_intent bigint,
	p_match text, p_what text, p_profile bytea, p_line text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	i intents%ROWTYPE;
	v_held boolean;
	c_origin text;
	c_seq bigint;
BEGIN
	IF p_type IN ('commit', 'abort', 'resolve') THEN
		SELECT * INTO i FROM intents WHERE origin = p_origin AND seq = p_intent FOR UPDATE;
	END IF;
	IF p_type <> 'change' AND i.what IS NULL THEN
		-- a key record (or an outcome of an intent never told: it raises)
		IF NOT apply_key_record(p_origin, p_station, p_seq, p_type, p_uid, p_aid, p_keyno, p_old, p_new, p_gen,
			p_intent, p_match, p_line) THEN
			RETURN false;
		END IF;
		IF p_type = 'intent' THEN
			UPDATE intents SET profile = p_profile WHERE origin = p_origin AND seq = p_seq;
		ELSIF p_type = 'authorization' THEN
			UPDATE slots SET profile = NULL WHERE uid = p_uid;
		ELSIF p_type IN ('commit', 'abort', 'resolve') THEN
			-- the digest follows the state the outcome left, as in the
			-- journal index: the intent's when it changed the key or left
			-- it initial, none when unknown, kept by a slot still changed
			UPDATE slots SET profile = CASE WHEN p_type = 'commit' OR p_match = 'new' OR state = 1 THEN i.profile
				WHEN state = 0 THEN NULL ELSE profile END
			WHERE uid = i.uid AND aid = i.aid AND keyno = i.keyno;
		END IF;
		RETURN true;
	END IF;
	-- a change intent, or the outcome of one: no key slot moves. A change
	-- intent is held as a key intent is (journaled_held; version 4's
	-- record_held trigger marks key intents only).
	IF p_type = 'change' THEN
		v_held := coalesce(current_setting('dfissue.held', true), '') = 'on';
	END IF;
	INSERT INTO records (origin, seq, type, uid, line, station, held)
	VALUES (p_origin, p_seq, p_type, coalesce(i.uid, p_uid), p_line, p_station, v_held)
	ON CONFLICT (origin, seq) DO NOTHING;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO cards (uid) VALUES (coalesce(i.uid, p_uid)) ON CONFLICT (uid) DO NOTHING;
	IF p_type = 'change' AND v_held THEN
		UPDATE cards SET authorization_pending = false WHERE uid = p_uid;
		-- the same change left open in another journal: this station
		-- probes the card for it (it adopted that intent as this one)
		UPDATE intents SET open = false, closed_by_origin = p_origin, closed_by_seq = p_seq
		WHERE uid = p_uid AND aid = p_aid AND what = p_what AND open AND origin <> p_origin;
		INSERT INTO intents (origin, seq, uid, aid, what) VALUES (p_origin, p_seq, p_uid, p_aid, p_what);
	ELSIF p_type = 'change' THEN
		-- told late (version 4's rules, on the change's what instead of a
		-- key slot): closed on arrival by the latest same change of another
		-- journal, if any; it closes nothing (it never touched the card)
		UPDATE cards SET authorization_pending = false WHERE uid = p_uid;
		SELECT x.origin, x.seq INTO c_origin, c_seq
		FROM intents x JOIN records r ON r.origin = x.origin AND r.seq = x.seq
		WHERE x.uid = p_uid AND x.aid = p_aid AND x.what = p_what AND x.origin <> p_origin
		ORDER BY r.told_at DESC, x.origin, x.seq DESC LIMIT 1;
		INSERT INTO intents (origin, seq, uid, aid, what, open, closed_by_origin, closed_by_seq)
		VALUES (p_origin, p_seq, p_uid, p_aid, p_what, c_origin IS NULL, c_origin, c_seq);
	ELSE
		UPDATE intents SET open = false, closed_by_origin = p_origin, closed_by_seq = p_seq
		WHERE origin = p_origin AND seq = p_intent AND open;
	END IF;
	RETURN true;
END
$$;

CREATE FUNCTION journaled(p_origin text, p_station text, p_seq bigint[], p_type text[], p_uid bytea[],
	p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[], p_gen bigint[],
	p_intent bigint[], p_match text[], p_what text[], p_profile bytea[], p_line text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	n integer := coalesce(array_length(p_seq, 1), 0);
	k integer := 0;
BEGIN
	IF n > 1000 OR coalesce(array_length(p_type, 1), 0) <> n OR coalesce(array_length(p_uid, 1), 0) <> n
	   OR coalesce(array_length(p_line, 1), 0) <> n OR coalesce(array_length(p_intent, 1), 0) <> n
	   OR coalesce(array_length(p_what, 1), 0) <> n OR coalesce(array_length(p_profile, 1), 0) <> n THEN
		RAISE EXCEPTION 'journaled: arrays of different lengths (or more than 1000 records)';
	END IF;
	FOR x IN 1 .. n LOOP
		IF apply_record(p_origin, p_station, p_seq[x], p_type[x], p_uid[x], p_aid[x], p_keyno[x], p_old[x],
			p_new[x], p_gen[x], p_intent[x], p_match[x], p_what[x], p_profile[x], p_line[x]) THEN
			k := k + 1;
		END IF;
	END LOOP;
	RETURN k;
END
$$;

-- Versions 3 and 4 in one: the batch is taken only while this handle holds
-- the claim of every card it has an intent (key or change) for, whose lease
-- it extends; its intents are marked held (record_held, apply_record).
CREATE FUNCTION journaled_held(p_token text, p_lease_ms integer, p_origin text, p_station text, p_seq bigint[],
	p_type text[], p_uid bytea[], p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[],
	p_gen bigint[], p_intent bigint[], p_match text[], p_what text[], p_profile bytea[], p_line text[])
	RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	u bytea;
	k integer;
BEGIN
	IF p_lease_ms IS NULL OR p_lease_ms < 1 OR p_lease_ms > 86400000 THEN
		RAISE EXCEPTION 'lease of % ms: 1 ms to 1 day', p_lease_ms;
	END IF;
	IF coalesce(array_length(p_type, 1), 0) <> coalesce(array_length(p_uid, 1), 0) THEN
		RAISE EXCEPTION 'journaled_held: arrays of different lengths';
	END IF;
	FOR u IN SELECT DISTINCT x.uid FROM unnest(p_type, p_uid) AS x(type, uid) WHERE x.type IN ('intent', 'change')
		ORDER BY 1 LOOP
		UPDATE claims SET expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond'
		WHERE uid = u AND token = p_token;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'claim lost: card % is no longer claimed by this station (its lease ran out and another station took it, or it was released): no key change may follow',
				upper(encode(u, 'hex'));
		END IF;
	END LOOP;
	PERFORM set_config('dfissue.held', 'on', true);
	k := journaled(p_origin, p_station, p_seq, p_type, p_uid, p_aid, p_keyno, p_old, p_new, p_gen, p_intent,
		p_match, p_what, p_profile, p_line);
	PERFORM set_config('dfissue.held', '', true);
	RETURN k;
END
$$;

CREATE FUNCTION journaled_release(p_uid bytea, p_token text, p_origin text, p_station text, p_seq bigint[],
	p_type text[], p_uid_of bytea[], p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[],
	p_gen bigint[], p_intent bigint[], p_match text[], p_what text[], p_profile bytea[], p_line text[])
	RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	k integer;
BEGIN
	k := journaled(p_origin, p_station, p_seq, p_type, p_uid_of, p_aid, p_keyno, p_old, p_new, p_gen, p_intent,
		p_match, p_what, p_profile, p_line);
	DELETE FROM claims WHERE uid = p_uid AND token = p_token;
	RETURN k;
END
$$;

-- Version 2's lookup with one more column, h: a slot's profile digest
-- (bytea text, \x and hex; NULL when none).
CREATE FUNCTION lookup(p_uid bytea, p_origin text)
RETURNS TABLE (kind text, a bigint, b bigint, c bigint, d bigint, e bigint, f text, g text, h text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
	SELECT 'card', c.refusals::bigint, c.authorizations::bigint, c.authorization_pending::int::bigint,
		(SELECT coalesce(max(seq), 0) FROM records r WHERE r.uid = p_uid AND r.origin = p_origin AND r.type = 'refusal'),
		(SELECT coalesce(max(seq), 0) FROM records r WHERE r.uid = p_uid AND r.origin = p_origin AND r.type = 'authorization'),
		NULL::text, NULL::text, NULL::text
	FROM cards c WHERE c.uid = p_uid
	UNION ALL
	SELECT 'slot', s.aid::bigint, s.keyno::bigint, s.state::bigint, s.version::bigint,
		s.generation, s.changed_by::text, s.origin, s.profile::text
	FROM slots s WHERE s.uid = p_uid
	UNION ALL
	SELECT 'intent', i.aid::bigint, i.keyno::bigint, i.seq, 0, 0, i.origin, r.line, NULL::text
	FROM intents i JOIN records r ON r.origin = i.origin AND r.seq = i.seq
	WHERE i.uid = p_uid AND i.open
$$;

CREATE FUNCTION claim_lookup(p_uid bytea, p_holder text, p_token text, p_station text, p_lease_ms integer,
	p_origin text)
RETURNS TABLE (kind text, a bigint, b bigint, c bigint, d bigint, e bigint, f text, g text, h text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	taken boolean;
	who text;
BEGIN
	SELECT x.ok, x.holder INTO taken, who FROM claim(p_uid, p_holder, p_token, p_station, p_lease_ms) x;
	RETURN QUERY SELECT 'claim'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
		CASE WHEN taken THEN 't' ELSE 'f' END, who, NULL::text;
	IF taken THEN
		RETURN QUERY SELECT * FROM lookup(p_uid, p_origin);
	END IF;
END
$$;
