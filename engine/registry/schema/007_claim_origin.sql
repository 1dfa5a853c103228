-- dfissue registry, schema version 7: a claim knows the journal of the
-- process that holds it, so a station restarted on its journal finishes its
-- own torn card at once.
--
-- Up to version 6 a claim belonged to a process only (its token, random at
-- each start): a station SIGKILLed in the middle of a card and started
-- again on the same journal was refused its own card until the dead
-- process's lease ran out (`--claim-lease`, 60 s by default).
--
--   claims.origin  the checkpoint origin of the claiming process's journal
--                  (NULL: a process without a journal, `inspect`, or a
--                  claim taken before version 7);
--   claim_lookup() a claim whose holder has the caller's origin is taken
--                  over at once, whatever its lease, with the intents held
--                  under it (intents are the journal's, keyed by origin and
--                  seq: the new token's lookup sees them as its own, and
--                  journaled_held() takes intents under the new token only:
--                  the dead token's are refused).
--
-- Why this is safe: a journal is written by one process at a time (its
-- writer lock, engine/journal: an exclusive flock taken at open and held to
-- the end). A process that claims with origin O has O's journal open for
-- appending, so the process that held the claim with O is dead (or has
-- closed the journal and can append nothing more): the claimant succeeds
-- it, as a station restarted on the same journal does. A different origin
-- is another journal, perhaps a live station: refused while the lease holds,
-- as before.
--
-- The one way around the lock is a journal directory copied to a second
-- host (an operator's mistake): both copies name the same origin, so either
-- may take the other's claims. Their journals then fork, and the registry's
-- witnessing refuses the first checkpoint of whichever copy is witnessed
-- second (001_witness.sql, "forked" or "does not extend"): that station
-- stops taking cards (docs/OPERATIONS.md 12.5), and `dfissue audit` reports
-- the fork. A card is in one reader at a time, so the copies cannot both
-- send commands to it; the claim they may take from each other only lets a
-- card moved between them be worked without waiting for the lease.

ALTER TABLE claims ADD COLUMN origin text CHECK (origin IS NULL OR length(origin) BETWEEN 1 AND 255);

-- Version 6's claim_lookup keeps its body under a new name; the name
-- stations call first ends the lease of a predecessor of the same journal
-- (another token, the same non-empty origin), so that version 2's claim()
-- takes the UID, and records the origin with the claim it took. An empty
-- origin is none: processes without a journal never succeed each other.
-- All in the caller's transaction: the row lock of the first UPDATE orders
-- it with a concurrent claim of the UID.
ALTER FUNCTION claim_lookup(bytea, text, text, text, integer, text) RENAME TO claim_lookup_anyone;

CREATE FUNCTION claim_lookup(p_uid bytea, p_holder text, p_token text, p_station text, p_lease_ms integer,
	p_origin text)
RETURNS TABLE (kind text, a bigint, b bigint, c bigint, d bigint, e bigint, f text, g text, h text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$ BEGIN
	UPDATE claims AS cl SET expires_at = '-infinity'
	WHERE cl.uid = p_uid AND cl.origin = nullif(p_origin, '') AND cl.token <> p_token;
	RETURN QUERY SELECT * FROM claim_lookup_anyone(p_uid, p_holder, p_token, p_station, p_lease_ms, p_origin);
	UPDATE claims AS cl SET origin = nullif(p_origin, '') WHERE cl.uid = p_uid AND cl.token = p_token;
END $$;
