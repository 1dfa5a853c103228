-- dfissue registry, schema version 2: what every station must agree on
-- about each card UID (registry.h, "the PostgreSQL backend").
--
--   claims   one holder per UID at a time, with a lease: a claim whose
--            lease ran out (its station died) may be taken by another;
--   records  every card record of every station journal (intents,
--            outcomes, refusals, authorizations), exactly as the journal
--            holds the line, told by the station AFTER its journal made
--            it durable; (origin, seq) is the key, so telling a record
--            twice (a retry after a cut connection, the reconciliation
--            at start-up) is telling it once;
--   intents  key changes and whether an outcome closed them (in any
--            journal: an intent left open at one station is closed by the
--            next key change of the same key slot at another, which
--            found the card's real key by probing it);
--   slots    per (UID, AID, key number) what the journals recorded last;
--   cards    per UID: refusals, authorizations, whether one is pending.
--
-- The functions are the only writers (SECURITY DEFINER); stations get
-- EXECUTE, auditors SELECT (role_grants, version 1). The registry is never
-- trusted over the journals: `dfissue audit` replays the journals against
-- these tables.

CREATE TABLE claims (
	uid        bytea PRIMARY KEY CHECK (length(uid) BETWEEN 1 AND 10),
	holder     text NOT NULL,
	token      text NOT NULL,          -- the claiming process's registry handle
	station    text NOT NULL,
	db_user    text NOT NULL DEFAULT session_user,
	claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	expires_at timestamptz NOT NULL
);

CREATE TABLE records (
	origin   text NOT NULL,
	seq      bigint NOT NULL CHECK (seq >= 1),
	type     text NOT NULL CHECK (type IN ('intent', 'commit', 'abort', 'resolve', 'refusal', 'authorization')),
	uid      bytea NOT NULL CHECK (length(uid) BETWEEN 1 AND 10),
	line     text NOT NULL,
	station  text NOT NULL,
	db_user  text NOT NULL DEFAULT session_user,
	told_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (origin, seq)
);
CREATE INDEX records_uid ON records (uid);

CREATE TABLE intents (
	origin      text NOT NULL,
	seq         bigint NOT NULL,
	uid         bytea NOT NULL,
	aid         integer NOT NULL CHECK (aid BETWEEN 0 AND 16777215),
	keyno       smallint NOT NULL CHECK (keyno BETWEEN 0 AND 13),
	old_version smallint NOT NULL,
	new_version smallint NOT NULL,
	generation  bigint NOT NULL,
	open        boolean NOT NULL DEFAULT true,
	closed_by_origin text,
	closed_by_seq    bigint,
	PRIMARY KEY (origin, seq)
);
CREATE INDEX intents_open_uid ON intents (uid) WHERE open;

CREATE TABLE slots (
	uid        bytea NOT NULL,
	aid        integer NOT NULL,
	keyno      smallint NOT NULL,
	state      smallint NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 2), -- registry.h dfi_reg_slot_state
	version    integer NOT NULL DEFAULT -1,
	generation bigint NOT NULL DEFAULT 0,
	changed_by bigint NOT NULL DEFAULT 0,
	origin     text NOT NULL,          -- the journal that recorded it last
	PRIMARY KEY (uid, aid, keyno)
);

CREATE TABLE cards (
	uid            bytea PRIMARY KEY,
	refusals       integer NOT NULL DEFAULT 0,
	authorizations integer NOT NULL DEFAULT 0,
	authorization_pending boolean NOT NULL DEFAULT false
);

-- Claims. A claim is taken when nobody holds the UID, when the holder's
-- lease ran out, or when it is this token's already (a retry after a cut
-- connection). Returns the holder when it is someone else's.
CREATE FUNCTION claim(p_uid bytea, p_holder text, p_token text, p_station text, p_lease_ms integer,
	OUT ok boolean, OUT holder text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
BEGIN
	IF p_lease_ms IS NULL OR p_lease_ms < 1 OR p_lease_ms > 86400000 THEN
		RAISE EXCEPTION 'lease of % ms: 1 ms to 1 day', p_lease_ms;
	END IF;
	INSERT INTO claims AS c (uid, holder, token, station, expires_at)
	VALUES (p_uid, p_holder, p_token, p_station, clock_timestamp() + p_lease_ms * interval '1 millisecond')
	ON CONFLICT (uid) DO UPDATE
		SET holder = EXCLUDED.holder, token = EXCLUDED.token, station = EXCLUDED.station,
		    db_user = EXCLUDED.db_user, claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at
		WHERE c.token = EXCLUDED.token OR c.expires_at < clock_timestamp();
	IF FOUND THEN
		ok := true;
		holder := p_holder;
		RETURN;
	END IF;
	ok := false;
	SELECT c.holder INTO holder FROM claims c WHERE c.uid = p_uid;
END
$$;

-- Renews a claim this token holds (false: it is lost: expired and taken).
CREATE FUNCTION renew(p_uid bytea, p_token text, p_lease_ms integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
BEGIN
	UPDATE claims SET expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond'
	WHERE uid = p_uid AND token = p_token;
	RETURN FOUND;
END
$$;

CREATE FUNCTION release(p_uid bytea, p_token text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$ DELETE FROM claims WHERE uid = p_uid AND token = p_token $$;

-- One card record of journal p_origin, told after the journal made it
-- durable. The station parsed the journal's line and sends its fields
-- with it (the line is kept for the auditor, who checks it against the
-- journal). Applying it follows the journal index (engine/journal/index.c)
-- across every journal. Returns false when it was told before.
CREATE FUNCTION apply_record(p_origin text, p_station text, p_seq bigint, p_type text, p_uid bytea,
	p_aid integer, p_keyno integer, p_old integer, p_new integer, p_gen bigint, p_intent bigint,
	p_match text, p_line text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	i intents%ROWTYPE;
	v integer;
	u bytea := p_uid;
BEGIN
	IF p_type IN ('commit', 'abort', 'resolve') THEN
		-- an outcome names its intent; the UID is the intent's
		SELECT * INTO i FROM intents WHERE origin = p_origin AND seq = p_intent FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'record % of % is an outcome of intent %, which the registry was never told',
				p_seq, p_origin, p_intent;
		END IF;
		u := i.uid;
	END IF;
	INSERT INTO records (origin, seq, type, uid, line, station)
	VALUES (p_origin, p_seq, p_type, u, p_line, p_station)
	ON CONFLICT (origin, seq) DO NOTHING;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO cards (uid) VALUES (u) ON CONFLICT (uid) DO NOTHING;
	IF p_type = 'refusal' THEN
		UPDATE cards SET refusals = refusals + 1 WHERE uid = p_uid;
	ELSIF p_type = 'authorization' THEN
		-- a re-issue starts from the factory key, as a first issue does
		UPDATE cards SET authorizations = authorizations + 1, authorization_pending = true WHERE uid = p_uid;
		UPDATE slots SET state = 0, version = -1, generation = 0, changed_by = 0, origin = p_origin
		WHERE uid = p_uid;
	ELSIF p_type = 'intent' THEN
		UPDATE cards SET authorization_pending = false WHERE uid = p_uid;
		INSERT INTO slots (uid, aid, keyno, origin) VALUES (p_uid, p_aid, p_keyno, p_origin)
		ON CONFLICT (uid, aid, keyno) DO NOTHING;
		-- an intent left open for this key slot in another journal: this
		-- station probed the card and found its key, so that one is over
		UPDATE intents SET open = false, closed_by_origin = p_origin, closed_by_seq = p_seq
		WHERE uid = p_uid AND aid = p_aid AND keyno = p_keyno AND open AND origin <> p_origin;
		INSERT INTO intents (origin, seq, uid, aid, keyno, old_version, new_version, generation)
		VALUES (p_origin, p_seq, p_uid, p_aid, p_keyno, p_old, p_new, p_gen);
	ELSE
		UPDATE intents SET open = false, closed_by_origin = p_origin, closed_by_seq = p_seq
		WHERE origin = p_origin AND seq = p_intent AND open;
		IF p_type = 'commit' OR (p_type = 'resolve' AND p_match = 'new') THEN
			UPDATE slots SET state = 2, version = i.new_version, generation = i.generation,
				changed_by = i.seq, origin = p_origin
			WHERE uid = i.uid AND aid = i.aid AND keyno = i.keyno;
		ELSE
			v := CASE WHEN p_type = 'abort' OR p_match = 'old' THEN i.old_version ELSE -1 END;
			UPDATE slots SET version = v, origin = p_origin,
				state = CASE WHEN v < 0 THEN 0 WHEN state = 2 THEN 2 ELSE 1 END
			WHERE uid = i.uid AND aid = i.aid AND keyno = i.keyno;
		END IF;
	END IF;
	RETURN true;
END
$$;

-- Several records in one round trip (arrays of equal length); returns how
-- many were new.
CREATE FUNCTION journaled(p_origin text, p_station text, p_seq bigint[], p_type text[], p_uid bytea[],
	p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[], p_gen bigint[],
	p_intent bigint[], p_match text[], p_line text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	n integer := coalesce(array_length(p_seq, 1), 0);
	k integer := 0;
BEGIN
	IF n > 1000 OR coalesce(array_length(p_type, 1), 0) <> n OR coalesce(array_length(p_uid, 1), 0) <> n
	   OR coalesce(array_length(p_line, 1), 0) <> n OR coalesce(array_length(p_intent, 1), 0) <> n THEN
		RAISE EXCEPTION 'journaled: arrays of different lengths (or more than 1000 records)';
	END IF;
	FOR x IN 1 .. n LOOP
		IF apply_record(p_origin, p_station, p_seq[x], p_type[x], p_uid[x], p_aid[x], p_keyno[x], p_old[x],
			p_new[x], p_gen[x], p_intent[x], p_match[x], p_line[x]) THEN
			k := k + 1;
		END IF;
	END LOOP;
	RETURN k;
END
$$;

-- The highest seq the registry was told for a journal (0: none): a station
-- tells again what its journal holds from a little before it (start-up
-- reconciliation after a crash between the journal and the registry).
CREATE FUNCTION told(p_origin text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$ SELECT coalesce(max(seq), 0) FROM records WHERE origin = p_origin $$;

-- What is known of a UID, in one round trip: one 'card' row (refusals,
-- authorizations, pending, and the seq of the last refusal and the last
-- authorization in journal p_origin, 0 when none), a 'slot' row per key
-- slot and an 'intent' row (origin, seq, the journal line) per open intent.
CREATE FUNCTION lookup(p_uid bytea, p_origin text)
RETURNS TABLE (kind text, a bigint, b bigint, c bigint, d bigint, e bigint, f text, g text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
	SELECT 'card', c.refusals::bigint, c.authorizations::bigint, c.authorization_pending::int::bigint,
		(SELECT coalesce(max(seq), 0) FROM records r WHERE r.uid = p_uid AND r.origin = p_origin AND r.type = 'refusal'),
		(SELECT coalesce(max(seq), 0) FROM records r WHERE r.uid = p_uid AND r.origin = p_origin AND r.type = 'authorization'),
		NULL::text, NULL::text
	FROM cards c WHERE c.uid = p_uid
	UNION ALL
	SELECT 'slot', s.aid::bigint, s.keyno::bigint, s.state::bigint, s.version::bigint,
		s.generation, s.changed_by::text, s.origin
	FROM slots s WHERE s.uid = p_uid
	UNION ALL
	SELECT 'intent', i.aid::bigint, i.keyno::bigint, i.seq, 0, 0, i.origin, r.line
	FROM intents i JOIN records r ON r.origin = i.origin AND r.seq = i.seq
	WHERE i.uid = p_uid AND i.open
$$;

-- Every open intent of every journal, oldest first (`dfissue recover
-- --registry`: stations may call functions, not read tables).
CREATE FUNCTION open_intents(OUT origin text, OUT seq bigint, OUT line text, OUT station text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
	SELECT i.origin, i.seq, r.line, r.station
	FROM intents i JOIN records r ON r.origin = i.origin AND r.seq = i.seq
	WHERE i.open ORDER BY r.told_at, i.origin, i.seq
$$;
