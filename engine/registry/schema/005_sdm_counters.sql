-- dfissue registry, schema version 5: the last Secure Dynamic Messaging read
-- counter accepted per UID, for `dfissue sdm verify --registry`. Several
-- verifier processes (a web service's workers, several hosts) share it, so
-- a tap replayed to any of them is refused: the check and the update are
-- one statement under the row's lock, never two round trips.
CREATE TABLE sdm_counters (
	uid bytea PRIMARY KEY CHECK (length(uid) BETWEEN 4 AND 10),
	ctr integer NOT NULL CHECK (ctr BETWEEN 0 AND 16777215),
	station text NOT NULL,
	at timestamptz NOT NULL DEFAULT now()
);

-- Accepts read counter p_ctr of card p_uid when it is above the last one
-- accepted for that UID (or the UID is new). Returns whether it did and the
-- counter accepted before (-1: none). A call is not idempotent: the caller
-- never retries it blindly (a retried acceptance would refuse the tap).
CREATE FUNCTION sdm_seen(p_uid bytea, p_ctr integer, p_station text)
RETURNS TABLE (accepted boolean, last integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	prev integer;
BEGIN
	IF p_ctr IS NULL OR p_ctr < 0 OR p_ctr > 16777215 THEN
		RAISE EXCEPTION 'sdm_seen: read counter % is not 0..16777215', p_ctr;
	END IF;
	INSERT INTO sdm_counters (uid, ctr, station) VALUES (p_uid, p_ctr, p_station)
	ON CONFLICT (uid) DO NOTHING;
	IF FOUND THEN
		RETURN QUERY SELECT true, -1;
		RETURN;
	END IF;
	SELECT c.ctr INTO prev FROM sdm_counters c WHERE c.uid = p_uid FOR UPDATE;
	IF p_ctr > prev THEN
		UPDATE sdm_counters SET ctr = p_ctr, station = p_station, at = now() WHERE uid = p_uid;
		RETURN QUERY SELECT true, prev;
	ELSE
		RETURN QUERY SELECT false, prev;
	END IF;
END
$$;
