#!/usr/bin/env bash
# perso_seeds.sh FUZZ_PERSO CORPUS_DIR AIMS
# Replays every seed of fuzz_perso's corpus once, with the trace on, and
# fails naming each seed that no longer tests what its name says: no line
# in AIMS, no answer tampered with (every seed but "clean"), a mutation
# record that changed nothing, or a command AIMS names whose answer it did
# not touch. Seeds aim at APDUs by index, and the engine's sequence moves
# under them: the fuzzer's own oracles pass a seed that hits nothing.
set -euo pipefail
bin=$1 corpus=$2 aims=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# One process for all of them (its start-up makes a token). libFuzzer may
# run an input twice (a leak check): the first run after "Running:" counts.
if ! DFI_FUZZ_PERSO_TRACE=1 "$bin" "$corpus"/* >"$log" 2>&1; then
	tail -n 40 "$log"
	echo "perso_seeds: fuzz_perso failed on a seed (its oracle above)"
	exit 1
fi
bad=0
for seed in "$corpus"/*; do
	name=$(basename "$seed")
	if ! want=$(awk -v s="$name" '$1 == s { $1 = ""; print; f = 1 } END { exit !f }' "$aims"); then
		echo "perso_seeds: $name: no line in $aims: name the commands it aims at"
		bad=1
		continue
	fi
	# This seed's lines: from its "Running:" to its first "input:" summary.
	run=$(awk -v p="Running: $seed" '$0 == p { on = 1; next } on { print } on && /^input:/ { exit }' "$log")
	summary=$(grep '^input:' <<<"$run" || true)
	n=$(sed -E 's/^input: ([0-9]+) answers.*/\1/' <<<"$summary")
	got=$(sed -nE 's/^apdu [0-9]+: cmd ([0-9A-F]{2}),.* TAMPERED$/\1/p' <<<"$run" | sort -u | tr '\n' ' ')
	got=${got% }
	if [ -z "$summary" ]; then
		echo "perso_seeds: $name: no trace summary (was it replayed?)"
		bad=1
	elif [ "$name" != clean ] && [ "$n" -eq 0 ]; then
		echo "perso_seeds: $name tampers with no answer: re-aim it (DFI_FUZZ_PERSO_TRACE=1 $bin $seed shows the APDUs)"
		bad=1
	elif ! grep -q 'changed nothing: none$' <<<"$summary"; then
		echo "perso_seeds: $name: ${summary#input: }: re-aim or drop those records"
		bad=1
	else
		for c in $want; do
			if [[ " $got " != *" $c "* ]]; then
				echo "perso_seeds: $name tampers with $got but no $c answer: re-aim it"
				bad=1
			fi
		done
	fi
done
[ "$bad" -eq 0 ] && echo "perso_seeds: every seed tampers with what it aims at"
exit "$bad"
