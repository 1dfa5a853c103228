#!/usr/bin/env bash
# Errors that say what to do, and the counters of a card that took several
# taps; no pcscd and no root needed (pcscd is pointed at a socket that does
# not exist; cards are in-process sim: readers). Each case checks the exit
# status, the message on stderr and, with --json, the error object on
# stdout. The reader errors that need a running pcscd (an unknown reader
# name) are in test_e2e_sigterm.sh.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_workdir errors
d=$E2E_DIR
prof=$E2E_SRC/profiles/reference.json
export PCSCLITE_CSOCK_NAME=$d/no-pcscd/pcscd.comm

# run NAME CMD...: stdout in $d/NAME.out, stderr in $d/NAME.err, status in RC.
run() {
	local name=$1
	shift
	RC=0
	"$@" >"$d/$name.out" 2>"$d/$name.err" || RC=$?
	e2e_log "$name: exit $RC: $(head -c 600 "$d/$name.err" | tr '\n' ' ')"
}
expect() { # NAME RC STDERR-REGEX [STDOUT-REGEX]
	[ "$RC" -eq "$2" ] || e2e_fail "$1: exit $RC, expected $2: $(cat "$d/$1.err")"
	grep -qE -- "$3" "$d/$1.err" || e2e_fail "$1: stderr lacks /$3/: $(cat "$d/$1.err")"
	[ -z "${4:-}" ] || grep -qE -- "$4" "$d/$1.out" ||
		e2e_fail "$1: stdout lacks /$4/: $(cat "$d/$1.out")"
}

# 1. pcscd unreachable: readers, readers --json, personalize.
run readers "$E2E_DFISSUE" readers
expect readers 1 "cannot reach pcscd, the PC/SC daemon \(socket $d/no-pcscd/pcscd.comm\): it is not running. Start it with 'systemctl start pcscd.socket'"
run readers_json "$E2E_DFISSUE" readers --json
expect readers_json 1 "cannot reach pcscd" '^\{"error":"pcscd_unreachable","message":"readers: cannot reach pcscd.*","exit":1\}$'
[ "$(wc -l <"$d/readers_json.out")" -eq 1 ] || e2e_fail "readers --json: not one JSON line"
run perso_pcscd "$E2E_DFISSUE" personalize --profile "$prof" --batch "$E2E_SRC/profiles/reference-batch.csv" \
	"${E2E_HSM[@]}" --reader 'pcsc:*' --journal "$d/j-pcscd" --create-journal --json
expect perso_pcscd 1 "cannot reach pcscd" '"error":"pcscd_unreachable"'
[ ! -e "$d/j-pcscd" ] || e2e_fail "a journal was created although pcscd is down"
# Audit k34, finding 3: each reader command names itself when pcscd is
# down; inspect and sdm read say so at once, with how to start pcscd,
# instead of waiting for a card and then blaming the reader.
down="cannot reach pcscd, the PC/SC daemon \(socket $d/no-pcscd/pcscd.comm\): it is not running. Start it with 'systemctl start pcscd.socket' \(or run 'pcscd' as root\), check 'systemctl status pcscd', then 'dfissue readers'"
grep -qE "^dfissue: personalize: $down$" "$d/perso_pcscd.err" ||
	e2e_fail "perso_pcscd: not named personalize: $(cat "$d/perso_pcscd.err")"
run perso_pcscd_name "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" --reader 'pcsc:ACR 00 00' \
	--journal "$d/j-pcscd" --create-journal --json
expect perso_pcscd_name 1 "^dfissue: personalize: $down$" \
	'^\{"error":"pcscd_unreachable","message":"personalize: cannot reach pcscd.*","exit":1\}$'
[ ! -e "$d/j-pcscd" ] || e2e_fail "a journal was created although pcscd is down"
run inspect_pcscd "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --wait-ms 2000
expect inspect_pcscd 1 "^dfissue: inspect: $down$"
run sdm_read_pcscd "$E2E_DFISSUE" sdm read --reader 'pcsc:ACR 00 00' --aid E30010 --file 2 --wait-ms 2000
expect sdm_read_pcscd 1 "^dfissue: sdm read: $down$"
for n in inspect_pcscd sdm_read_pcscd; do
	[ "$(wc -l <"$d/$n.err")" -eq 1 ] || e2e_fail "$n: not one line: $(cat "$d/$n.err")"
done
# --row names a row of --batch: alone it is refused before any reader opens.
run inspect_row "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --profile "$prof" --row 2
expect inspect_row 2 "^dfissue: inspect: --row needs --batch"
# One history at a time, and a key only for a journal.
run inspect_two "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --profile "$prof" \
	--registry postgresql:///x --journal "$d/j"
expect inspect_two 2 "^dfissue: inspect: give --registry \(every station's records\) or --journal \(one station's\), not both"
run inspect_pubkey "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --profile "$prof" --pubkey "$d/k.pem"
expect inspect_pubkey 2 "^dfissue: inspect: --pubkey needs --journal"
run inspect_journal "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --journal "$d/j"
expect inspect_journal 2 "^dfissue: inspect: --journal needs --profile"
# A journal that is not there fails before any reader is asked for a card.
run inspect_nojournal "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --profile "$prof" --journal "$d/nj"
expect inspect_nojournal 1 "^dfissue: inspect: --journal '$d/nj': cannot read $d/nj: No such file or directory \(give a journal directory or its journal.log\)$"
# So does a --pubkey that is no key (the journal named is only a file here).
: >"$d/jfile.log"
echo junk >"$d/junk.pem"
run inspect_badkey "$E2E_DFISSUE" inspect --reader 'pcsc:ACR 00 00' --profile "$prof" --journal "$d/jfile.log" \
	--pubkey "$d/junk.pem"
expect inspect_badkey 1 "^dfissue: inspect: '$d/junk.pem' is neither an Ed25519 or ECDSA P-256 public key"

# 2. The profile's keys are checked before the journal is created.
sed 's/object=app1-master/object=no-such-key/' "$prof" >"$d/badkey.json"
run badkey "$E2E_DFISSUE" personalize --profile "$d/badkey.json" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/c0.img" --journal "$d/j-badkey" --create-journal --json
expect badkey 1 "profile '.*badkey.json': .*no-such-key.*\(nothing was created\)" \
	'^\{"error":"profile_keys","message":"profile .*","exit":1\}$'
[ ! -e "$d/j-badkey" ] || e2e_fail "the journal was created before the profile's keys were checked"
# Audit finding k33r-A/B: every batch row the run may reach is checked
# before the HSM or a journal: a bad 4th row (of 4 sim: readers), a CSV
# header that types a field wrongly, a malformed reissue_uid.
e2e_batch "$d/rows.csv" 4
sed -i '5s/^2004,/5000000000,/' "$d/rows.csv"
run badrow "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/rows.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/r1.img" --reader "sim:$d/r2.img" --reader "sim:$d/r3.img" \
	--reader "sim:$d/r4.img" --journal "$d/j-badrow" --create-journal --json
expect badrow 1 "^dfissue: $d/rows.csv:5: card_number: must be 0\.\.4294967295 for the profile's be32 \(got 5000000000\): nothing was personalized$" \
	'^\{"error":"batch","message":".*rows.csv:5: card_number: must be 0.*","exit":1\}$'
[ ! -e "$d/j-badrow" ] || e2e_fail "a journal was created although row 4 is bad"
[ ! -e "$d/r1.img" ] || e2e_fail "a card was touched although row 4 is bad"
# The check reads only the rows the run can reach: with three sim: readers
# (one card each) or with --cards 2, the bad 4th row is never reached, so
# the run goes on and personalizes exactly that many cards.
run reach3 "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/rows.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/s1.img" --reader "sim:$d/s2.img" --reader "sim:$d/s3.img" \
	--journal "$d/j-reach3" --create-journal
[ "$RC" -eq 0 ] || e2e_fail "reach3: exit $RC: $(cat "$d/reach3.err")"
grep -q '^summary: 3 card(s) on 3 reader(s): 3 done, ' "$d/reach3.err" ||
	e2e_fail "three sim: readers: $(grep summary "$d/reach3.err")"
run reach2 "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/rows.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/q1.img" --reader "sim:$d/q2.img" --reader "sim:$d/q3.img" \
	--reader "sim:$d/q4.img" --cards 2 --journal "$d/j-reach2" --create-journal
[ "$RC" -eq 0 ] || e2e_fail "reach2: exit $RC: $(cat "$d/reach2.err")"
grep -q '^summary: 2 card(s) on 4 reader(s): 2 done, ' "$d/reach2.err" ||
	e2e_fail "--cards 2 over four sim: readers: $(grep summary "$d/reach2.err")"
# Audit k36s, finding 5: three readers under a 64 KiB locked-memory limit
# (root's CAP_IPC_LOCK dropped, or the limit would not apply) say which
# limit and how to raise it, not just "out of memory". Not under the
# sanitizers: they intercept mlock() and make it succeed.
if command -v setpriv >/dev/null && [ -z "${DFI_SANITIZE:-}" ]; then
	run memlock bash -c 'ulimit -l 64 && exec setpriv --bounding-set=-ipc_lock \
		--inh-caps=-ipc_lock "$@"' memlock "$E2E_DFISSUE" personalize --profile "$prof" \
		--batch "$d/rows.csv" "${E2E_HSM[@]}" --reader "sim:$d/m1.img" --reader "sim:$d/m2.img" \
		--reader "sim:$d/m3.img" --journal "$d/j-memlock" --create-journal
	expect memlock 1 "^dfissue: \[sim:$d/m[123]\.img\] out of memory, or over this process's limit \
on locked memory, which holds keys and PINs \(ulimit -l: 64 KiB\): raise it \(ulimit -l, or \
LimitMEMLOCK= in the service unit\); no card was touched$"
	! grep -q ' type=intent ' "$d/j-memlock/journal.log" || e2e_fail "memlock: a card was touched"
fi
sed '1s/card_number:int/card_number/' "$d/rows.csv" >"$d/untyped.csv"
run untyped "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/untyped.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/r1.img" --journal "$d/j-badrow" --create-journal
expect untyped 1 "^dfissue: $d/untyped.csv:1: card_number: the profile formats it as be32: declare the column card_number:int: nothing was personalized$"
# inspect with that row: the reason and exit 1, not a report of a card
# state it never read (hw 00.00, every application absent) and exit 0.
run inspect_untyped "$E2E_DFISSUE" inspect --reader "sim:$d/ri.img" --profile "$prof" --batch "$d/untyped.csv" \
	--row 1 "${E2E_HSM[@]}"
expect inspect_untyped 1 "^dfissue: inspect: $d/untyped.csv:1: card_number: the profile formats it as be32: declare the column card_number:int$"
! grep -q "application" "$d/inspect_untyped.out" || e2e_fail "inspect_untyped: a report: $(cat "$d/inspect_untyped.out")"
{ sed -n 1p "$d/rows.csv" | sed 's/$/,reissue_uid,reissue_reason/'; sed -n 2p "$d/rows.csv" |
	sed 's/$/,04:8B:88:A3:4E:A6:37,chip replaced/'; } >"$d/reissue.csv"
run reissue_row "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/reissue.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/r1.img" --journal "$d/j-badrow" --create-journal
expect reissue_row 1 "^dfissue: $d/reissue.csv:2: reissue_uid: must be a 7-byte UID as 14 hex digits, as --reissue takes it \(got \"04:8B:88:A3:4E:A6:37\"\): nothing was personalized$"
[ ! -e "$d/j-badrow" ] || e2e_fail "a journal was created although a row is bad"
# Audit k33p, finding 1: the profile's originality.trusted_keys file is read
# at load, with the profile's line and the file's; --originality-keys FILE
# before the HSM is opened, named as the option. No journal either way.
sed '$ s|^}$|, "originality": {"policy": "require",\n"trusted_keys": "my-keys.keys"}}|' "$prof" >"$d/tk.json"
tkline=$(($(wc -l <"$prof") + 1))
printf 'vendor 04AB\n' >"$d/my-keys.keys"
run trusted_keys "$E2E_DFISSUE" personalize --profile "$d/tk.json" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/c0.img" --journal "$d/j-tk" --create-journal
expect trusted_keys 1 "^dfissue: $d/tk.json:$tkline: originality.trusted_keys: $d/my-keys.keys:1: the public key must be 114 hex digits"
run orig_keys "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/c0.img" --journal "$d/j-tk" --create-journal --originality-keys "$d/my-keys.keys"
expect orig_keys 1 "^dfissue: personalize: --originality-keys: $d/my-keys.keys:1: the public key must be 114 hex digits"
[ ! -e "$d/j-tk" ] || e2e_fail "a journal was created although the trusted keys are bad"
# Audit k34a, finding 8: a journal token that does not open is named as
# the journal key's HSM, not as the master keys' one; no journal is made.
run jtoken "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/c0.img" --journal "$d/j-jt" --create-journal --journal-token 'pkcs11:token=nosuch'
expect jtoken 1 "^dfissue: opening the journal key's HSM \(--journal-module, --journal-token\): no token matches the URI: .*'pkcs11:token=nosuch'"
[ ! -e "$d/j-jt" ] || e2e_fail "a journal was created although its key's HSM does not open"
# Audit k34a, finding 7: --origin cannot rename an existing journal; one
# that differs is refused before any card (it was silently ignored).
"$E2E_DFISSUE" journal init --origin test.example/A --station org "${E2E_HSM[@]}" "$d/j-org" >/dev/null 2>&1 ||
	e2e_fail "journal init for the origin row"
run origin_other "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/org.img" --journal "$d/j-org" --origin test.example/B
expect origin_other 1 "^dfissue: journal '$d/j-org' has origin 'test.example/A', not 'test.example/B' \(--origin\): --origin names a journal created here and never renames one: give the journal of that origin, or drop --origin$"
[ ! -e "$d/org.img" ] || e2e_fail "a card was touched although --origin names another journal"

# 3. --station longer than 63 characters is refused, not cut.
long=$(printf 's%.0s' $(seq 1 64))
run station "$E2E_DFISSUE" personalize --profile "$prof" "${E2E_HSM[@]}" --reader "sim:$d/c0.img" \
	--journal "$d/j" --station "$long" --json
expect station 2 "--station takes 1 to 63 characters, not 64" '"error":"usage"'

# 4. Usage errors as JSON; configuration file errors name file and line.
run usage_json "$E2E_DFISSUE" personalize --bogus --json
expect usage_json 2 "unknown option" '^\{"error":"usage","message":"personalize: unknown option.*","exit":2\}$'
# A repeatable option fills an array: one more than it holds is a usage
# error before anything is opened (64 --reissue, then a 65th).
many=()
for i in $(seq 1 65); do many+=(--reissue "$(printf '04%012X' "$i")"); done
run reissue_many "$E2E_DFISSUE" personalize --profile "$prof" "${E2E_HSM[@]}" --reader "sim:$d/c0.img" \
	--journal "$d/j-many" --reason test "${many[@]}"
expect reissue_many 2 "^dfissue: personalize: at most 64 --reissue options$"
run reissue_bad "$E2E_DFISSUE" personalize --profile "$prof" "${E2E_HSM[@]}" --reader "sim:$d/c0.img" \
	--journal "$d/j-many" --reason test --reissue 04A1 --reissue 0011
expect reissue_bad 2 "^dfissue: personalize: --reissue wants a 7-byte UID as 14 hex digits, not '04A1'$"
[ ! -e "$d/j-many" ] || e2e_fail "a journal was created although the options were refused"
printf 'profile = %s\n# a comment\nreaderz = pcsc:*\n' "$prof" >"$d/bad.conf"
run conf_key "$E2E_DFISSUE" personalize --config "$d/bad.conf"
expect conf_key 2 "$d/bad.conf:3: unknown key 'readerz'"
printf 'pin-env = DFISSUE_PIN\n' >"$d/pin.conf"
run conf_pin "$E2E_DFISSUE" personalize --config "$d/pin.conf"
expect conf_pin 2 "pin.conf:1: a configuration file takes no PIN and no PIN variable: .*'pin-file'"
# Audit k36l, finding 3: a configuration file that is missing or cannot be
# read is a configuration error, exit 2 (the station unit does not restart
# after 2), with what to do. A directory stands for a file that does not
# read (the tests may run as root, who reads any mode).
run conf_missing "$E2E_DFISSUE" personalize --config "$d/none.conf"
expect conf_missing 2 "^dfissue: configuration file '$d/none.conf': No such file or directory: create it \(dfissue-station.conf\(5\)\) or give another --config$"
run conf_missing_json "$E2E_DFISSUE" personalize --config "$d/none.conf" --json
expect conf_missing_json 2 "No such file" '^\{"error":"usage","message":"configuration file .*","exit":2\}$'
mkdir -p "$d/dir.conf"
run conf_dir "$E2E_DFISSUE" personalize --config "$d/dir.conf"
expect conf_dir 2 "^dfissue: configuration file '$d/dir.conf': Is a directory: give a regular file$"
printf 'json = maybe\n' >"$d/bool.conf"
run conf_bool "$E2E_DFISSUE" personalize --config "$d/bool.conf"
expect conf_bool 2 "bool.conf:1: 'json' takes yes or no, not 'maybe'"
# fuzz_cli_config: a NUL byte cut the value short without a word (fgets
# hid it: this file gave --reader=sim:a). A line too long stays an error,
# now found by its length instead of fgets's buffer.
printf 'json = no\nreader = sim:a\0.img\n' >"$d/nul.conf"
run conf_nul "$E2E_DFISSUE" personalize --config "$d/nul.conf"
expect conf_nul 2 "^dfissue: $d/nul.conf:2: a NUL byte: not a text file$"
{ printf 'reader = sim:'; head -c 5000 /dev/zero | tr '\0' a; printf '.img\nno-such-key = 1\n'; } >"$d/long.conf"
run conf_long "$E2E_DFISSUE" personalize --config "$d/long.conf"
expect conf_long 2 "^dfissue: $d/long.conf:1: line longer than 4096 characters$"
# Audit k33, findings 1-3: a bad --reader, an origin the new journal would
# refuse (given, or made from --station) and a URI p11-kit cannot fully
# read are usage errors found before the HSM login: exit 2, one exact
# line, and no journal directory left behind.
early() { # NAME EXACT-LINE OPTION...
	local name=$1 line=$2
	shift 2
	run "$name" "$E2E_DFISSUE" personalize --profile "$prof" \
		--batch "$E2E_SRC/profiles/reference-batch.csv" "${E2E_HSM[@]}" \
		--journal "$d/j-$name" --create-journal -q "$@"
	[ "$RC" -eq 2 ] || e2e_fail "$name: exit $RC, expected 2: $(cat "$d/$name.err")"
	[ "$(cat "$d/$name.err")" = "dfissue: $line" ] ||
		e2e_fail "$name: stderr: $(cat "$d/$name.err")"
	[ ! -e "$d/j-$name" ] || e2e_fail "$name: a journal directory was left behind"
}
early reader_bad "personalize: --reader 'foo:bar': expected pcsc:NAME or sim:IMAGE" --reader foo:bar
early reader_bare "personalize: --reader 'sim': expected pcsc:NAME or sim:IMAGE" --reader sim
early station_origin "personalize: --station 'st 1' makes the new journal's origin 'dfissue/st 1', \
which may not hold spaces or '+': give --origin NAME" --reader "sim:$d/k33.img" --station "st 1"
early origin_bad "personalize: --origin 'my origin' cannot name the new journal: 1..127 printable \
ASCII bytes without spaces or '+'" --reader "sim:$d/k33.img" --origin "my origin"
early jkey_bad "personalize: --journal-key: 'pkcs11:objct=journal': has an attribute p11-kit \
does not know, so it would match no key (a key is named with object=, id= and type=, its token \
with token=)" \
	--reader "sim:$d/k33.img" --journal-key 'pkcs11:objct=journal'
[ ! -e "$d/k33.img" ] || e2e_fail "a card image was created although the options were refused"
# Audit k33p, finding 3: a value the option refuses names the file and line
# too, with the command line's words after it; the same value given on the
# command line keeps the command line's form.
conf_case() { # NAME FILE-TEXT STDERR-REGEX [ARGS...]: personalize --config NAME.conf ARGS
	local name=$1 text=$2 re=$3
	shift 3
	printf '%b' "$text" >"$d/$name.conf"
	run "$name" "$E2E_DFISSUE" personalize --config "$d/$name.conf" "$@"
	expect "$name" 2 "$re"
}
conf_case conf_wait "profile = $prof\nreader = sim:$d/c0.img\njournal = $d/j-conf\n# a comment\n\nwait-ms = 30s\n" \
	"^dfissue: $d/conf_wait.conf:6: wait-ms: wants milliseconds \(0 to 86400000\), not '30s'$"
conf_case conf_reissue 'reissue = 04:8B\n' \
	"^dfissue: $d/conf_reissue.conf:1: reissue: wants a 7-byte UID as 14 hex digits, not '04:8B'$"
conf_case conf_registry '# shared registry\nregistry = host=db1 dbname=reg\n' \
	"^dfissue: $d/conf_registry.conf:2: registry: the registry URL must be a libpq connection URI" \
	--profile "$prof" --reader "sim:$d/c0.img" --journal "$d/j-conf" --json
grep -qE '^\{"error":"usage","message":".*conf_registry.conf:2: registry: .*","exit":2\}$' \
	"$d/conf_registry.out" || e2e_fail "conf_registry: no usage error object: $(cat "$d/conf_registry.out")"
conf_case conf_cmdline 'registry = host=db1 dbname=reg\n' \
	"^dfissue: personalize: --wait-ms wants milliseconds \(0 to 86400000\), not '30s'$" --wait-ms 30s
conf_case conf_station "station = $long\n" \
	"^dfissue: $d/conf_station.conf:1: station: takes 1 to 63 characters, not 64" \
	--profile "$prof" --reader "sim:$d/c0.img" --journal "$d/j-conf"
# Audit k35c: the checks made once the options are parsed (a reader's
# form, --reason without --reissue, --claim-lease without --registry) name
# the file and line as well, with the command line's text after them; the
# same values on the command line keep their lines byte for byte.
perso=(--profile "$prof" --reader "sim:$d/c0.img" --journal "$d/j-conf")
conf_case conf_reader "profile = $prof\n# a comment\nreader = bogus:x\njournal = $d/j-conf\n" \
	"^dfissue: $d/conf_reader.conf:3: reader: 'bogus:x': expected pcsc:NAME or sim:IMAGE$"
together='--reissue and --reason go together; the reason is 1\.\.127 characters the journal keeps \(never secrets\)'
conf_case conf_reason 'reason = test\n' "^dfissue: $d/conf_reason.conf:1: reason: $together$" "${perso[@]}"
conf_case conf_reissue_alone '\nreissue = 04A1B2C3D4E5F6\n' \
	"^dfissue: $d/conf_reissue_alone.conf:2: reissue: $together$" "${perso[@]}"
conf_case conf_reason_cmdline 'station = st1\n' "^dfissue: personalize: $together$" "${perso[@]}" --reason test
lease="--claim-lease is the lease of a card's claim in a shared registry: give --registry URL too \
\(without one, claims are this process's own and never expire\)"
conf_case conf_lease '# no registry\nclaim-lease = 30\n' \
	"^dfissue: $d/conf_lease.conf:2: claim-lease: $lease$" "${perso[@]}"
conf_case conf_lease_cmdline 'claim-lease = 30\n' "^dfissue: personalize: $lease$" "${perso[@]}" \
	--claim-lease 40
# The same for the new journal's origin (given, or made from the station)
# and the journal key's URI, checked before the HSM login.
conf_case conf_origin '# site\norigin = my origin\n' "^dfissue: $d/conf_origin.conf:2: origin: 'my origin' \
cannot name the new journal: 1\.\.127 printable ASCII bytes without spaces or '\+'$" "${perso[@]}" --create-journal
conf_case conf_station_origin 'station = st 1\n' "^dfissue: $d/conf_station_origin.conf:1: station: \
'st 1' makes the new journal's origin 'dfissue/st 1', which may not hold spaces or '\+': give \
--origin NAME$" "${perso[@]}" --create-journal
conf_case conf_jkey 'journal-key = pkcs11:objct=journal\n' "^dfissue: $d/conf_jkey.conf:1: journal-key: \
'pkcs11:objct=journal': has an attribute p11-kit does not know" "${perso[@]}" --create-journal
# --tear-at with several readers: the line of whichever came from the file.
tear='--tear-at works with a single sim: reader only'
conf_case conf_tear "reader = sim:$d/c0.img\nreader = sim:$d/c1.img\n" \
	"^dfissue: $d/conf_tear.conf:2: reader: $tear$" --profile "$prof" --journal "$d/j-conf" --tear-at 3
conf_case conf_tear_file "\ntear-at = 3\n" "^dfissue: $d/conf_tear_file.conf:2: tear-at: $tear$" \
	"${perso[@]}" --reader "sim:$d/c1.img"
for n in conf_reader conf_reason conf_reissue_alone conf_reason_cmdline conf_lease conf_lease_cmdline \
	conf_origin conf_station_origin conf_jkey conf_tear conf_tear_file; do
	[ "$(wc -l <"$d/$n.err")" -eq 1 ] || e2e_fail "$n: not one line: $(cat "$d/$n.err")"
done
[ ! -e "$d/j-conf" ] || e2e_fail "a journal was created although the configuration was refused"

# 5. A card torn on its first and second taps (the second resolves the
#    first tap's open intent before it is torn): the result covers all
#    three taps. The options come from a configuration file, as a service's.
cat >"$d/station.conf" <<CONF
# station under test
profile = $prof
batch = $E2E_SRC/profiles/reference-batch.csv
reader = sim:$d/c1.img
journal = $d/j
create-journal = yes
station = errors-test
token = pkcs11:token=dfissue-dev
pin-file = $E2E_DIR/tok/user.pin
json = yes
CONF
run multitap "$E2E_DFISSUE" personalize --config "$d/station.conf" -v --tear-at 16,30
[ "$RC" -eq 0 ] || e2e_fail "multi-tap run: exit $RC: $(cat "$d/multitap.err")"
cat "$d/multitap.out" >&2
line=$(cat "$d/multitap.out")
[ "$(e2e_field "$line" taps)" = 3 ] || e2e_fail "expected 3 taps: $line"
# The resolve happened on tap 2: between the two tears.
awk '/^card 1: torn/ { t++ } /intent [0-9]+ resolved/ { if (t == 1) ok = 1 } END { exit !ok }' \
	"$d/multitap.err" || e2e_fail "no intent resolved on the second tap: $(cat "$d/multitap.err")"
commits=$(grep -c ' type=commit ' "$d/j/journal.log")
resolves=$(grep -c ' type=resolve ' "$d/j/journal.log")
[ "$(e2e_field "$line" key_changes)" = "$commits" ] ||
	e2e_fail "key_changes $(e2e_field "$line" key_changes), the journal has $commits commits"
[ "$resolves" -ge 1 ] || e2e_fail "no resolve in the journal: the test did not test it"
[ "$(e2e_field "$line" intents_resolved)" = "$resolves" ] ||
	e2e_fail "intents_resolved $(e2e_field "$line" intents_resolved), the journal has $resolves resolves"
[ "$(e2e_field "$line" steps_total)" = "$(e2e_field "$line" steps_done)" ] ||
	e2e_fail "steps_total/steps_done over the taps differ: $line"
e2e_log "3 taps: key_changes $commits and intents_resolved $resolves match the journal"

# 6. Batches show "card n of N" (two sim: readers, a batch of 3 rows:
#    two cards this run).
e2e_batch "$d/b3.csv" 3
run progress "$E2E_DFISSUE" personalize --profile "$prof" --batch "$d/b3.csv" "${E2E_HSM[@]}" \
	--reader "sim:$d/p1.img" --reader "sim:$d/p2.img" --journal "$d/j2" --create-journal
expect progress 0 '^\[sim:.*p[12]\.img\] card 1 of 2: personalizing'
grep -qE '^\[sim:.*p[12]\.img\] card 2 of 2: personalizing' "$d/progress.err" ||
	e2e_fail "no 'card 2 of 2' line: $(cat "$d/progress.err")"
! grep -q $'\033' "$d/progress.err" || e2e_fail "status block drawn although stderr is no terminal"

# 7. On a terminal (script(1) gives one), a live status block per reader:
#    UID, step n/N, tallies, and a total line with the rate, redrawn in place.
e2e_batch "$d/b2.csv" 2
script -qec "'$E2E_DFISSUE' personalize --profile '$prof' --batch '$d/b2.csv' --token \
	pkcs11:token=dfissue-dev --pin-file '$E2E_DIR/tok/user.pin' --reader 'sim:$d/t1.img' \
	--reader 'sim:$d/t2.img' --journal '$d/j3' --create-journal" /dev/null >"$d/tty.out" 2>&1 ||
	e2e_fail "personalize on a terminal: $(cat -v "$d/tty.out" | tail -5)"
grep -q $'\033\[3A' "$d/tty.out" || e2e_fail "no status block redrawn on the terminal"
grep -qaE '[0-9A-F]{14} step [0-9]+/[0-9]+: .* +[0-9]+ ok +[0-9]+ failed' "$d/tty.out" ||
	e2e_fail "no per-reader status line with UID and step n/N: $(cat -v "$d/tty.out" | head -20)"
grep -qaE '== 2 done, 0 failed, [0-9.]+ cards/min' "$d/tty.out" || e2e_fail "no total status line"
e2e_log "terminal: $(grep -caE 'step [0-9]+/[0-9]+' "$d/tty.out") status redraws with step n/N"
# On a terminal too, a --pin-env that names an unset variable is an error
# (a typo, a unit without its Environment= line), never a PIN prompt that
# a station may not answer. timeout bounds the run if it did prompt.
RC=0
env -u DFI_E2E_UNSET_PIN timeout 30 script -qec "'$E2E_DFISSUE' key list --token \
	pkcs11:token=dfissue-dev --pin-env DFI_E2E_UNSET_PIN" /dev/null </dev/null >"$d/tty-pin.out" 2>&1 ||
	RC=$?
[ "$RC" -eq 1 ] || e2e_fail "unset --pin-env on a terminal: exit $RC: $(cat -v "$d/tty-pin.out")"
grep -qa 'the PIN variable DFI_E2E_UNSET_PIN is not set: export it, or give a PIN file instead' \
	"$d/tty-pin.out" || e2e_fail "unset --pin-env on a terminal: $(cat -v "$d/tty-pin.out")"
! grep -qa 'User PIN' "$d/tty-pin.out" || e2e_fail "unset --pin-env prompted for the PIN"

# 8. Under systemd (JOURNAL_STREAM names stderr) lines carry <N> priorities.
: >"$d/journald.err"
js=$(stat -c '%d:%i' "$d/journald.err")
JOURNAL_STREAM=$js "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$d/b2.csv" "${E2E_HSM[@]}" --reader "sim:$d/u1.img" --journal "$d/j4" \
	--create-journal --station bogus-station-name-that-is-far-too-long-for-any-journal-record-x \
	2>>"$d/journald.err" && e2e_fail "the long station name was accepted"
grep -q '^<3>dfissue: personalize: --station takes 1 to 63' "$d/journald.err" ||
	e2e_fail "no <3> prefix: $(cat "$d/journald.err")"
JOURNAL_STREAM=$js "$E2E_DFISSUE" personalize --profile "$prof" \
	--batch "$d/b2.csv" "${E2E_HSM[@]}" --reader "sim:$d/u1.img" --journal "$d/j4" \
	--create-journal 2>>"$d/journald.err" >/dev/null || e2e_fail "journald run: $(cat "$d/journald.err")"
grep -q '^<6>card 1: waiting for a card' "$d/journald.err" || e2e_fail "no <6> prefix: $(cat "$d/journald.err")"
grep -q '^<5>1 card(s), 1 done' "$d/journald.err" || e2e_fail "no <5> prefix: $(cat "$d/journald.err")"
grep -v '^<[3-7]>' "$d/journald.err" && e2e_fail "a line without a priority prefix"
e2e_log "journald: every line has a priority prefix ($(sort "$d/journald.err" | cut -c1-3 | uniq -c | tr '\n' ' '))"
e2e_log "OK: every error case says what to do; multi-tap counters cover all taps"
