-- dfissue registry, schema version 3: a station's key-change intents are
-- taken only while it holds the card's claim.
--
-- Before version 3 a claim kept other stations off a UID only for its
-- lease: a station stalled past its lease (a hung HSM, a process stopped
-- and continued) whose UID another station had claimed in the meantime
-- could still go on with key changes, and two stations would change keys
-- of one UID at once. The engine sends no ChangeKey before the registry has
-- taken its intent (registry.h, dfi_registry_journaled), so the claim is
-- checked there: journaled_held() takes the batch only when, for every
-- intent in it, the claim on the intent's UID is still this station
-- handle's (p_token), and extends that claim's lease in the same
-- transaction. The row lock this takes orders it with a concurrent claim()
-- by another station: either the holder's lease is extended first (and the
-- other's claim() then finds it held) or the other took the UID first (and
-- this call raises). A claim whose lease ran out but that nobody took is
-- still this handle's: nothing else touched the card, so it is renewed.
-- On a refusal nothing of the batch is recorded; the station stops (fail
-- closed) with its intent in its own journal, and that card's key unchanged.
--
-- Records told without a claim (the start-up reconciliation of a journal's
-- tail, refusals, outcomes) keep going through journaled().

CREATE FUNCTION journaled_held(p_token text, p_lease_ms integer, p_origin text, p_station text, p_seq bigint[],
	p_type text[], p_uid bytea[], p_aid integer[], p_keyno integer[], p_old integer[], p_new integer[],
	p_gen bigint[], p_intent bigint[], p_match text[], p_line text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	u bytea;
BEGIN
	IF p_lease_ms IS NULL OR p_lease_ms < 1 OR p_lease_ms > 86400000 THEN
		RAISE EXCEPTION 'lease of % ms: 1 ms to 1 day', p_lease_ms;
	END IF;
	IF coalesce(array_length(p_type, 1), 0) <> coalesce(array_length(p_uid, 1), 0) THEN
		RAISE EXCEPTION 'journaled_held: arrays of different lengths';
	END IF;
	FOR u IN SELECT DISTINCT x.uid FROM unnest(p_type, p_uid) AS x(type, uid) WHERE x.type = 'intent' ORDER BY 1 LOOP
		UPDATE claims SET expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond'
		WHERE uid = u AND token = p_token;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'claim lost: card % is no longer claimed by this station (its lease ran out and another station took it, or it was released): no key change may follow',
				upper(encode(u, 'hex'));
		END IF;
	END LOOP;
	RETURN journaled(p_origin, p_station, p_seq, p_type, p_uid, p_aid, p_keyno, p_old, p_new, p_gen, p_intent,
		p_match, p_line);
END
$$;
