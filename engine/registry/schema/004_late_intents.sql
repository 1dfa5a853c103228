-- dfissue registry, schema version 4: intents told late; the claim and the
-- lookup in one round trip.
--
-- A station whose claim was taken over (its lease ran out while it was
-- stalled) or whose registry was unreachable keeps its intent in its own
-- journal and sends no ChangeKey (journaled_held refused it, or never
-- answered). At its next start it tells the registry that intent with the
-- rest of its journal's tail (the reconciliation), without a claim: the
-- intent is told late, and no key change followed it. Meanwhile another
-- station may have claimed the card and finished it.
--
-- Version 3 took such an intent like any other: it stayed open (the
-- station that told it never saw the card again), it closed another
-- station's open intent on the same key slot as if it had probed the card,
-- and the auditor's replay took it for a second issue. From version 4:
--
--   records.held  for an intent: true when journaled_held took it (the
--                 station held the card's claim), false when it was told
--                 without one (late), NULL when told before version 4;
--   a late intent on a key slot another journal already has an intent
--                 for is closed on arrival, by the latest of those (that
--                 station had the card: it resolved what this one left);
--                 on a key slot nobody else touched it stays open until
--                 an outcome or another station's intent closes it;
--   a late intent never closes another journal's open intent (it never
--                 touched the card, so it found nothing about its key).
--
-- `dfissue audit` replays the same rules (tools/dfissue/audit_cards.c):
-- a late intent closed by another station is no finding, unless its own
-- journal later records that its key change was done (commit, or resolve
-- matching the new key): that is a key change without the claim.

ALTER TABLE records ADD COLUMN held boolean;

-- The checking function of version 3 keeps its body under a new name; the
-- name stations call marks its intents as held, for this transaction.
ALTER FUNCTION journaled_held(text, integer, text, text, bigint[], text[], bytea[], integer[], integer[],
	integer[], integer[], bigint[], bigint[], text[], text[]) RENAME TO journaled_held_checked;

CREATE FUNCTION journaled_held(p_token text, p_lease_ms integer, p_origin text, p_station text, p_seq bigint[],
	p_type text[], p_uid bytea[], p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[],
	p_gen bigint[], p_intent bigint[], p_match text[], p_line text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	k integer;
BEGIN
	PERFORM set_config('dfissue.held', 'on', true);
	k := journaled_held_checked(p_token, p_lease_ms, p_origin, p_station, p_seq, p_type, p_uid, p_aid, p_keyno,
		p_old, p_new, p_gen, p_intent, p_match, p_line);
	PERFORM set_config('dfissue.held', '', true);
	RETURN k;
END
$$;

CREATE FUNCTION record_held() RETURNS trigger
LANGUAGE plpgsql SET search_path = dfissue, pg_temp
AS $$
BEGIN
	IF NEW.type = 'intent' THEN
		NEW.held := coalesce(current_setting('dfissue.held', true), '') = 'on';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER record_held BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION record_held();

CREATE FUNCTION intent_late() RETURNS trigger
LANGUAGE plpgsql SET search_path = dfissue, pg_temp
AS $$
DECLARE
	o text;
	s bigint;
BEGIN
	IF (SELECT r.held FROM records r WHERE r.origin = NEW.origin AND r.seq = NEW.seq) IS FALSE THEN
		SELECT i.origin, i.seq INTO o, s
		FROM intents i JOIN records r ON r.origin = i.origin AND r.seq = i.seq
		WHERE i.uid = NEW.uid AND i.aid = NEW.aid AND i.keyno = NEW.keyno AND i.origin <> NEW.origin
		ORDER BY r.told_at DESC, i.origin, i.seq DESC LIMIT 1;
		IF FOUND THEN
			NEW.open := false;
			NEW.closed_by_origin := o;
			NEW.closed_by_seq := s;
		END IF;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER intent_late BEFORE INSERT ON intents FOR EACH ROW EXECUTE FUNCTION intent_late();

CREATE FUNCTION intent_closed_late() RETURNS trigger
LANGUAGE plpgsql SET search_path = dfissue, pg_temp
AS $$
BEGIN
	IF OLD.open AND NOT NEW.open AND NEW.closed_by_origin IS DISTINCT FROM OLD.origin AND EXISTS (
		SELECT 1 FROM records r WHERE r.origin = NEW.closed_by_origin AND r.seq = NEW.closed_by_seq
		AND r.type = 'intent' AND r.held IS FALSE) THEN
		RETURN NULL;  -- a late intent closes nothing
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER intent_closed_late BEFORE UPDATE ON intents FOR EACH ROW EXECUTE FUNCTION intent_closed_late();


-- The claim and, when it is taken, the lookup of its UID, in one round trip
-- and one transaction (issue 13, the benchmark): the engine looks a card up
-- right after claiming it, and what it learns is the same, since nobody
-- else may tell an intent of a UID this station holds. The first row is
-- kind 'claim' (f: 't' when taken, g: the holder); lookup()'s rows follow.
CREATE FUNCTION claim_lookup(p_uid bytea, p_holder text, p_token text, p_station text, p_lease_ms integer,
	p_origin text)
RETURNS TABLE (kind text, a bigint, b bigint, c bigint, d bigint, e bigint, f text, g text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	taken boolean;
	who text;
BEGIN
	SELECT x.ok, x.holder INTO taken, who FROM claim(p_uid, p_holder, p_token, p_station, p_lease_ms) x;
	RETURN QUERY SELECT 'claim'::text, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint, NULL::bigint,
		CASE WHEN taken THEN 't' ELSE 'f' END, who;
	IF taken THEN
		RETURN QUERY SELECT * FROM lookup(p_uid, p_origin);
	END IF;
END
$$;

-- Records told and a claim released, in one round trip and one
-- transaction: a station defers the outcomes of its key changes (nothing
-- waits on them) and tells them with its next intents or, at the latest,
-- with the release of the card's claim, so no other station can claim the
-- card before the registry has them.
CREATE FUNCTION journaled_release(p_uid bytea, p_token text, p_origin text, p_station text, p_seq bigint[],
	p_type text[], p_uid_of bytea[], p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[],
	p_gen bigint[], p_intent bigint[], p_match text[], p_line text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	k integer;
BEGIN
	k := journaled(p_origin, p_station, p_seq, p_type, p_uid_of, p_aid, p_keyno, p_old, p_new, p_gen, p_intent,
		p_match, p_line);
	DELETE FROM claims WHERE uid = p_uid AND token = p_token;
	RETURN k;
END
$$;
