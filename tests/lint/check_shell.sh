#!/usr/bin/env bash
# check_shell.sh SRC_DIR: every shell script of the tree passes shellcheck
# at severity warning (bash and POSIX sh scripts, the bash completions),
# following sourced files (-x). A finding that is right to keep carries a
# `# shellcheck disable=SCnnnn # why` comment on the line above it.
set -euo pipefail
src=$1
command -v shellcheck >/dev/null ||
	{ echo "shellcheck not installed: run tools/install-deps.sh (Debian package shellcheck)" >&2; exit 1; }
cd "$src"
mapfile -t files < <(find . \( -name 'build*' -o -name .git -o -name out -o -name node_modules \) -prune -o \
	-type f \( -name '*.sh' -o -name '*.bash' \) -print | sort)
# Scripts without the suffix: those starting with a sh or bash #! line.
while IFS= read -r f; do
	case $(head -c 64 "$f") in '#!'*sh*) files+=("$f") ;; esac
done < <(find ./.ci ./tools ./hsm-config ./dist -type f ! -name '*.*' 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || { echo "no shell scripts found under $src" >&2; exit 1; }
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#files[@]} scripts"
# SC1091: a script sourcing a file named at run time ("$dir/lib.sh") cannot
# be followed; the files it sources are checked on their own.
if shellcheck -x -S warning -e SC1091 -f gcc "${files[@]}"; then
	echo "OK: no findings"
else
	echo "FAIL: shellcheck findings above (fix them, or disable one with a reason)" >&2
	exit 1
fi
