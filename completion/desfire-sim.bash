# bash completion for desfire-sim                          -*- shell-script -*-
# Options are read from `desfire-sim --help`.
_desfire_sim() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	case $prev in
	--image) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
	--model) mapfile -t COMPREPLY < <(compgen -W "ev1 ev2 ev3" -- "$cur"); return 0 ;;
	--tear-mode) mapfile -t COMPREPLY < <(compgen -W "before after" -- "$cur"); return 0 ;;
	--timing) mapfile -t COMPREPLY < <(compgen -W "none datasheet" -- "$cur"); return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$("${COMP_WORDS[0]}" --help 2>/dev/null |
			grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur")
	fi
}
complete -F _desfire_sim desfire-sim
