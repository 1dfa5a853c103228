#!/usr/bin/env bash
# build-libnfc.sh DEST — libnfc built from Debian's own source package with
# its PC/SC driver enabled (Debian's libnfc6 has no pcsc driver), installed
# into DEST (DEST/lib/libnfc.so.6). Debian's libfreefare-bin examples run
# against it through LD_LIBRARY_PATH, over pcscd.
#
# The source comes through apt with a deb-src entry in a private apt
# directory (DEST/apt): /etc/apt is never touched. The result is cached:
# a second run with the same source version does nothing.
set -euo pipefail
dest=$1
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
apt_dir=$dest/apt
stamp=$dest/.built
log=$dest/build.log

# Bumped when the build below changes (a cache of an older build is rebuilt).
recipe="pcsc driver, reader_len fix"
if [ -f "$stamp" ] && [ -e "$dest/lib/libnfc.so.6" ] && grep -qF "($recipe)" "$stamp"; then
	echo "libnfc: cached in $dest ($(cat "$stamp"))"
	exit 0
fi
for tool in apt-get dpkg-source autoreconf make cc; do
	command -v "$tool" >/dev/null || {
		echo "libnfc: $tool is missing: run tools/install-deps.sh" >&2
		exit 1
	}
done

# The same mirror and suite as the machine's own sources, as deb-src.
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=http://deb.debian.org/debian
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	[ -n "$m" ] && mirror=$m
fi
rm -rf "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/src"
echo "deb-src $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
echo "libnfc: fetching Debian's source package ($mirror $suite, private apt dir $apt_dir)"
apt-get "${apt_opts[@]}" -qq update >"$log" 2>&1 || {
	echo "libnfc: apt-get update of the private deb-src list failed (see $log)" >&2
	exit 1
}
(cd "$apt_dir/src" && apt-get "${apt_opts[@]}" -qq source --download-only libnfc) >>"$log" 2>&1 || {
	echo "libnfc: apt-get source libnfc failed (see $log)" >&2
	exit 1
}
dsc=$(ls "$apt_dir"/src/libnfc_*.dsc | head -n 1)
version=$(awk '/^Version:/ {print $2; exit}' "$dsc")
rm -rf "$dest/src"
dpkg-source -x "$dsc" "$dest/src" >>"$log" 2>&1
# libnfc 1.8.0's pcsc driver asks SCardStatus for the status without the
# reader's name but with an uninitialised name length (pcsc_get_status:
# `DWORD ... reader_len`); pcsc-lite reads that length, so the call fails or
# not with whatever the stack held: on one machine every libfreefare example
# ended "Can't connect to Mifare DESFire target" after "Get status failed"
# (LIBNFC_LOG_LEVEL=3), on others they passed. The length is set to 0.
pcsc_c=$dest/src/libnfc/drivers/pcsc.c
if grep -q 'DWORD dw_atr_len = \*atr_len, reader_len, state, protocol;' "$pcsc_c"; then
	sed -i 's/DWORD dw_atr_len = \*atr_len, reader_len, state, protocol;/DWORD dw_atr_len = *atr_len, reader_len = 0, state, protocol;/' "$pcsc_c"
	echo "libnfc: pcsc_get_status: reader_len initialised (uninitialised in $(basename "$dsc"))"
fi
echo "libnfc: building $version with --with-drivers=pcsc"
(
	cd "$dest/src"
	autoreconf -fi
	./configure --prefix="$dest" --with-drivers=pcsc --disable-static \
		--disable-silent-rules CFLAGS="-O2 -g"
	# only the library: the examples and utilities are not needed
	make -C libnfc -j"$(nproc)"
	make -C libnfc install
) >>"$log" 2>&1 || {
	echo "libnfc: build failed (see $log)" >&2
	tail -n 20 "$log" >&2
	exit 1
}
grep -q 'pcsc\.\.\.\.* yes' "$log" || {
	echo "libnfc: configure did not enable the pcsc driver (see $log)" >&2
	exit 1
}
echo "$version ($recipe)" >"$stamp"
echo "libnfc: $version with the pcsc driver in $dest/lib"
