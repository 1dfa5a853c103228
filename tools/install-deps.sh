#!/usr/bin/env bash
# Installs every Debian package dfissue needs to build, run and test.
# Idempotent: checks first, runs `apt-get update` only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libp11-kit-dev p11-kit softhsm2
  libnss3 libnss3-tools opencryptoki
  libpcsclite-dev pcscd vsmartcard-vpcd
  check libssl-dev openssl libjansson-dev iproute2 util-linux
  man-db systemd chromium
  libfreefare-bin dpkg-dev autoconf automake libtool libusb-dev
  libpq-dev postgresql
  shellcheck clang-tools
)

missing=()
for p in "${PKGS[@]}"; do
  [ -n "$p" ] || continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
