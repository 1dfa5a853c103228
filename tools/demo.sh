#!/usr/bin/env bash
# The main job, end to end, on the embedded default (no hardware):
#   1. install what is missing, build;
#   2. create a SoftHSM2 development token (never the system one) holding
#      the test master keys and the journal signing key;
#   3. start a private pcscd with one vsmartcard virtual reader and a
#      simulated factory DESFire card in it (desfire-sim), set to tear once:
#      the card executes its 39th APDU -- a ChangeKey -- but the answer is
#      lost and the card leaves the field, coming back a second later;
#   4. personalize it with profiles/reference.json through pcscd: the first
#      tap is torn, the second resolves the journal's open intent by
#      probing the card and finishes it ("resumed", "1 resolved");
#   5. show the card's final state (dfissue inspect) and verify the journal
#      as an auditor would, with the public key alone (a resolve record).
# The demo fails unless the second tap resolved an intent: a change of the
# profile or the engine that moves the ChangeKey away from APDU 39 must
# move the tear with it (the APDU's number counts the reader's GET DATA).
# Needs root (pcscd runs in private mount/network/PID namespaces, see
# tests/e2e/e2e_lib.sh). DFI_DEMO_DIR chooses the work directory (default
# out/demo, recreated); it keeps the token, the journal and the card image.
# DFI_DEMO_BUILD chooses the build directory (default build); with
# DFI_DEMO_PREBUILT=1 it is used as built (tests/e2e/test_e2e_demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (or with sudo): pcscd needs a private /run/pcscd" >&2
	exit 1
fi
bdir=${DFI_DEMO_BUILD:-build}
# DFI_DEMO_PREBUILT=1: the build directory is used as it is (the test suite
# runs the demo so, on the build it tests: no apt, no rebuild under ctest).
if [ -z "${DFI_DEMO_PREBUILT:-}" ]; then
	bash tools/install-deps.sh
	jobs=$(nproc 2>/dev/null || echo 2)
	echo "== building ($bdir/)"
	cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$bdir" -j"$jobs" >/dev/null
fi

DFI_BUILD_DIR=$(cd "$bdir" && pwd)
export DFI_SOURCE_DIR=$src DFI_BUILD_DIR DFI_E2E_KEEP=1
. tests/e2e/e2e_lib.sh
demo=${DFI_DEMO_DIR:-$src/out/demo}
e2e_init demo "$demo"
dfissue=$E2E_DFISSUE
reader="dfissue-demo 00 00"
profile=profiles/reference.json
tear_at=39 # a ChangeKey of this card, profile and batch row (see the header)
batch=profiles/reference-batch.csv

echo
echo "== 1. development token in $E2E_DIR/tok (SoftHSM2; test keys, non-extractable)"
"$dfissue" key list "${E2E_HSM[@]}"

echo
echo "== 2. private pcscd with the virtual reader \"$reader\" and a factory card"
echo "   (desfire-sim: UID 04DE3000000001; tears at its 39th APDU, a ChangeKey: executed, answer lost, back after 1 s)"
e2e_reader dfissue-demo
e2e_card "$E2E_PORT" --image "$E2E_DIR/card.img" --uid 04DE3000000001 --seed 1 -q \
	--tear-at "$tear_at" --tear-mode after --reinsert-ms 1000
e2e_rig_start
echo "\$ dfissue readers"
"$dfissue" readers

echo
echo "== 3. dfissue personalize --profile $profile --batch $batch --reader 'pcsc:$reader' --once"
"$dfissue" personalize --profile "$profile" --batch "$batch" "${E2E_HSM[@]}" \
	--reader "pcsc:$reader" --journal "$E2E_DIR/journal" --create-journal \
	--station demo --origin dfissue.example/demo --once --wait-ms 30000 -v 2>&1 |
	tee "$E2E_DIR/personalize.out" | sed 's/^/   /'
grep -q ': resumed ' "$E2E_DIR/personalize.out" ||
	{ echo "demo: FAILED: the card was not resumed after its tear" >&2; exit 1; }
grep -qE ': resumed \(.* 1 resolved,' "$E2E_DIR/personalize.out" ||
	{ echo "demo: FAILED: the second tap resolved no intent: APDU $tear_at is no longer a ChangeKey; move --tear-at to one (dfissue personalize -v shows each step)" >&2; exit 1; }

echo
echo "== 4. the card's final state: dfissue inspect --reader 'pcsc:$reader' --profile $profile"
"$dfissue" inspect --reader "pcsc:$reader" --profile "$profile" --batch "$batch" --row 1 \
	"${E2E_HSM[@]}" | tee "$E2E_DIR/inspect.out"
grep -q 'remaining steps: 0' "$E2E_DIR/inspect.out" ||
	{ echo "demo: FAILED: steps remain on the card" >&2; exit 1; }
e2e_rig_stop

echo
echo "== 5. the auditor: public key and journal only"
"$dfissue" journal-key pubkey "${E2E_HSM[@]}" 'pkcs11:token=dfissue-dev;object=journal' \
	>"$E2E_DIR/journal.pub.pem"
echo "\$ dfissue journal show $E2E_DIR/journal"
"$dfissue" journal show "$E2E_DIR/journal"
echo "\$ dfissue journal verify --pubkey journal.pub.pem $E2E_DIR/journal"
if "$dfissue" journal verify --pubkey "$E2E_DIR/journal.pub.pem" "$E2E_DIR/journal" |
	tee "$E2E_DIR/verify.out"; then
	echo "journal verify: OK"
else
	echo "journal verify: FAILED" >&2
	exit 1
fi
grep -q ', 1 resolves,' "$E2E_DIR/verify.out" ||
	{ echo "demo: FAILED: the journal holds no resolve record for the torn ChangeKey" >&2; exit 1; }

echo
echo "demo: OK (work directory $E2E_DIR: token, journal, card image; export SOFTHSM2_CONF=$SOFTHSM2_CONF to reuse the token)"
