#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds,
# creates a fresh SoftHSM2 development token (never the system one) and
# shows the HSM layer at work: the key list with KCVs, the NXP AN10922
# diversification computed inside the HSM, and the journal's public key.
#
# DFI_DEMO_DIR chooses where the token goes (default: out/demo, recreated).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null
dfissue=$PWD/build/bin/dfissue

demo=${DFI_DEMO_DIR:-$PWD/out/demo}
rm -rf "$demo"
mkdir -p "$demo"
echo "== creating the development token in $demo"
bash hsm-config/make-dev-token.sh "$demo/token" "$dfissue" >/dev/null
export SOFTHSM2_CONF=$demo/token/softhsm2.conf
token='pkcs11:token=dfissue-dev'
pin=(--pin-file "$demo/token/user.pin")

echo
echo "== dfissue key list --token '$token'"
"$dfissue" key list --token "$token" "${pin[@]}"

echo
echo "== AN10922 section 2.2.1 diversification, computed in the HSM"
echo "   (master 00112233445566778899AABBCCDDEEFF, UID 04782E21801D80, AID 3042F5, system id 4E585020416275;"
echo "    the application note's diversified key A8DD63A3B89D54B37CA802473FDA9175 has KCV C098FE)"
kcv=$("$dfissue" key derive-kcv --token "$token" "${pin[@]}" \
	--master "$token;object=an10922-master" --uid 04782E21801D80 --aid 3042F5 --sysid 4E585020416275)
echo "   dfissue key derive-kcv printed: $kcv"
if [ "$kcv" != "C098FE" ]; then
	echo "demo: FAILED: expected KCV C098FE" >&2
	exit 1
fi

echo
echo "== journal signing key (public half, for auditors)"
"$dfissue" journal-key pubkey --token "$token" "${pin[@]}" "$token;object=journal"

echo
echo "demo: OK (token in $demo/token; export SOFTHSM2_CONF=$SOFTHSM2_CONF to reuse it)"
