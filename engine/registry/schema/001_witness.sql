-- dfissue registry, schema version 1: witnessed station journals.
--
-- Applied by `dfissue registry init URL` inside one transaction, with
-- search_path = dfissue (the schema the objects live in). Every station
-- journal (named by its origin) has one row in journals: the last
-- checkpoint the registry witnessed. witness() accepts a new checkpoint
-- only with an RFC 9162 consistency proof from that one, checked here in
-- SQL, so a station cannot move its journal's witnessed head to a tree that
-- does not extend it: a journal rolled back or forked is refused at its next
-- witnessing, and the refusal is kept (witness_refusals). Signatures are not
-- checked here (PostgreSQL has no Ed25519): the station checks its own notes
-- before it submits them and `dfissue audit` checks every witnessed note
-- with the journal key. docs/JOURNAL.md, "Witnessing and consistency
-- proofs", explains the rule; docs/OPERATIONS.md the roles.

CREATE TABLE journals (
	origin        text PRIMARY KEY CHECK (origin ~ '^[!-*,-~]{1,127}$'),
	key_id        bigint NOT NULL CHECK (key_id BETWEEN 0 AND 4294967295),
	alg           text NOT NULL CHECK (alg IN ('ed25519', 'ecdsa-p256')),
	size          bigint NOT NULL CHECK (size >= 1),
	root          bytea NOT NULL CHECK (length(root) = 32),
	note          text NOT NULL,
	station       text NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now(),
	witnessed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every checkpoint ever witnessed, so an auditor checks that each one is in
-- the journal (the journal's tree of that size has that root).
CREATE TABLE checkpoints (
	origin       text NOT NULL REFERENCES journals (origin),
	size         bigint NOT NULL CHECK (size >= 1),
	root         bytea NOT NULL CHECK (length(root) = 32),
	note         text NOT NULL,
	station      text NOT NULL,
	db_user      text NOT NULL DEFAULT session_user,
	witnessed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (origin, size)
);

CREATE TABLE witness_refusals (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	origin       text NOT NULL,
	station      text NOT NULL,
	db_user      text NOT NULL DEFAULT session_user,
	old_size     bigint,
	new_size     bigint,
	new_root     bytea,
	note         text,
	reason       text NOT NULL,
	refused_at   timestamptz NOT NULL DEFAULT now()
);

-- Roles granted by `dfissue registry init --station-role/--auditor-role`,
-- granted again after every migration (new functions, new tables).
CREATE TABLE role_grants (
	role       text PRIMARY KEY,
	kind       text NOT NULL CHECK (kind IN ('station', 'auditor')),
	granted_at timestamptz NOT NULL DEFAULT now()
);

-- RFC 6962 interior node.
CREATE FUNCTION merkle_node(l bytea, r bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT sha256('\x01'::bytea || l || r) $$;

-- RFC 9162 §2.1.4.2: does proof (32-byte hashes, concatenated) show that
-- root_m, the tree of m leaves, is a prefix of root_n, the tree of n?
CREATE FUNCTION verify_consistency(m bigint, n bigint, root_m bytea, root_n bytea, proof bytea)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = dfissue, pg_temp
AS $$
DECLARE
	len int;
	i int;
	fn bigint;
	sn bigint;
	fr bytea;
	sr bytea;
	c bytea;
BEGIN
	IF m IS NULL OR n IS NULL OR root_m IS NULL OR root_n IS NULL OR proof IS NULL
	   OR length(root_m) <> 32 OR length(root_n) <> 32 OR length(proof) % 32 <> 0
	   OR m < 1 OR m > n THEN
		RETURN false;
	END IF;
	len := length(proof) / 32;
	IF m = n THEN
		RETURN len = 0 AND root_m = root_n;
	END IF;
	IF len = 0 OR len > 66 THEN
		RETURN false;
	END IF;
	IF (m & (m - 1)) = 0 THEN
		fr := root_m;       -- the old root is a node of the new tree
		i := 1;
	ELSE
		fr := substring(proof FROM 1 FOR 32);
		i := 2;
	END IF;
	sr := fr;
	fn := m - 1;
	sn := n - 1;
	WHILE (fn & 1) = 1 LOOP
		fn := fn >> 1;
		sn := sn >> 1;
	END LOOP;
	WHILE i <= len LOOP
		IF sn = 0 THEN
			RETURN false;
		END IF;
		c := substring(proof FROM (i - 1) * 32 + 1 FOR 32);
		IF (fn & 1) = 1 OR fn = sn THEN
			fr := merkle_node(c, fr);
			sr := merkle_node(c, sr);
			WHILE (fn & 1) = 0 AND fn <> 0 LOOP
				fn := fn >> 1;
				sn := sn >> 1;
			END LOOP;
		ELSE
			sr := merkle_node(sr, c);
		END IF;
		fn := fn >> 1;
		sn := sn >> 1;
		i := i + 1;
	END LOOP;
	RETURN sn = 0 AND fr = root_m AND sr = root_n;
END
$$;

-- The last witnessed checkpoint of a journal (no row when unknown).
CREATE FUNCTION witnessed(p_origin text, OUT size bigint, OUT root bytea, OUT note text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$ SELECT size, root, note FROM journals WHERE origin = p_origin $$;

-- Witnesses checkpoint p_note (of p_new_size records, root p_new_root) of
-- journal p_origin, proven consistent with the registry's last witnessed
-- checkpoint of that journal, whose size the station believes is
-- p_old_size (0: none). Statuses:
--   registered  the journal's first witnessed checkpoint (no proof)
--   witnessed   the proof holds: this is now the witnessed checkpoint
--   same        this checkpoint is already the witnessed one (a retry)
--   stale       p_old_size is not the witnessed size: prove again from
--               (size, root), returned
--   refused     reason says why; the refusal is recorded
-- size and root are the witnessed checkpoint after the call.
CREATE FUNCTION witness(p_origin text, p_key_id bigint, p_alg text, p_station text,
	p_old_size bigint, p_new_size bigint, p_new_root bytea, p_note text, p_proof bytea,
	OUT status text, OUT size bigint, OUT root bytea, OUT reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = dfissue, pg_temp
AS $$
DECLARE
	j journals%ROWTYPE;
	lines text[];
	nroot bytea;
BEGIN
	-- The note's text must name this log, size and root (its signature is
	-- the auditor's to check).
	lines := string_to_array(p_note, E'\n');
	BEGIN
		nroot := decode(lines[3], 'base64');
	EXCEPTION WHEN OTHERS THEN
		nroot := NULL;
	END;
	IF p_origin IS NULL OR p_station IS NULL OR p_new_size IS NULL OR p_new_root IS NULL
	   OR p_old_size IS NULL OR p_old_size < 0
	   OR coalesce(array_length(lines, 1), 0) < 6 OR lines[1] IS DISTINCT FROM p_origin
	   OR lines[2] IS DISTINCT FROM p_new_size::text OR nroot IS DISTINCT FROM p_new_root
	   OR length(p_new_root) <> 32 OR p_new_size < 1 THEN
		reason := 'the checkpoint note does not name this log, size and root';
		INSERT INTO witness_refusals (origin, station, old_size, new_size, new_root, note, reason)
		VALUES (coalesce(p_origin, '?'), coalesce(p_station, '?'), p_old_size, p_new_size, p_new_root, p_note, reason);
		status := 'refused';
		RETURN;
	END IF;

	SELECT * INTO j FROM journals WHERE origin = p_origin FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO journals (origin, key_id, alg, size, root, note, station)
		VALUES (p_origin, p_key_id, p_alg, p_new_size, p_new_root, p_note, p_station)
		ON CONFLICT (origin) DO NOTHING;
		IF FOUND THEN
			INSERT INTO checkpoints (origin, size, root, note, station)
			VALUES (p_origin, p_new_size, p_new_root, p_note, p_station);
			status := 'registered';
			size := p_new_size;
			root := p_new_root;
			RETURN;
		END IF;
		-- registered by another session meanwhile
		SELECT * INTO j FROM journals WHERE origin = p_origin FOR UPDATE;
	END IF;
	size := j.size;
	root := j.root;

	IF j.key_id <> p_key_id OR j.alg <> p_alg THEN
		reason := format('the journal key changed: the registry knows key %s (%s), this checkpoint names %s (%s)',
			lpad(to_hex(j.key_id), 8, '0'), j.alg, lpad(to_hex(p_key_id), 8, '0'), p_alg);
	ELSIF p_new_size < j.size THEN
		reason := format('rolled back: the journal has %s records, the registry witnessed %s', p_new_size, j.size);
	ELSIF p_new_size = j.size THEN
		IF p_new_root = j.root THEN
			status := 'same';
			RETURN;
		END IF;
		reason := format('forked: another tree of the %s records the registry witnessed', j.size);
	ELSIF p_old_size <> j.size THEN
		status := 'stale';
		RETURN;
	ELSIF NOT verify_consistency(j.size, p_new_size, j.root, p_new_root, p_proof) THEN
		reason := format('the checkpoint of %s records does not extend the witnessed one of %s records '
			'(no valid consistency proof): the journal was rolled back or forked', p_new_size, j.size);
	END IF;
	IF reason IS NOT NULL THEN
		INSERT INTO witness_refusals (origin, station, old_size, new_size, new_root, note, reason)
		VALUES (p_origin, p_station, p_old_size, p_new_size, p_new_root, p_note, reason);
		status := 'refused';
		RETURN;
	END IF;

	UPDATE journals SET size = p_new_size, root = p_new_root, note = p_note, station = p_station,
		witnessed_at = now()
	WHERE origin = p_origin;
	INSERT INTO checkpoints (origin, size, root, note, station)
	VALUES (p_origin, p_new_size, p_new_root, p_note, p_station);
	status := 'witnessed';
	size := p_new_size;
	root := p_new_root;
END
$$;
