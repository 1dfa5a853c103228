# bash completion for dfissue                              -*- shell-script -*-
#
# Subcommands and options are read from `dfissue --help` and
# `dfissue COMMAND --help`, so a new subcommand or option completes without
# a change here; reader names come from `dfissue readers --names` (pcscd).
# Needs only bash (no bash-completion helpers).

_dfissue_help() { # COMMAND... : its --help text, cached per command line
	local key="$*"
	if [[ "${_dfissue_help_key-}" != "$key" ]]; then
		_dfissue_help_key=$key
		_dfissue_help_text=$("${_dfissue_bin:-dfissue}" "$@" --help 2>/dev/null)
	fi
	printf '%s\n' "$_dfissue_help_text"
}

_dfissue_commands() {
	"${_dfissue_bin:-dfissue}" --help 2>/dev/null |
		sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'
}

# Sub-subcommands of COMMAND: "dfissue key <list|import|...>" or one
# "dfissue journal init ..." usage line each.
_dfissue_actions() {
	local help
	help=$(_dfissue_help "$1")
	{
		sed -n "s/.*dfissue $1 <\([a-z-]*|[a-z|-]*\)>.*/\1/p" <<<"$help" | tr '|' '\n'
		sed -n "s/^\(usage:\)\{0,1\} *dfissue $1 \([a-z][a-z-]*\)\( .*\)\{0,1\}$/\2/p" <<<"$help"
	} | sort -u
}

# The options a help text offers: those of its usage block (up to the first
# blank line) and of the lines that define one ("  --name ...").
_dfissue_opts() {
	awk '!seen_blank && NF == 0 { seen_blank = 1 } !seen_blank || /^[ \t]+--/' |
		grep -oE -- '(^|[][ |])--[a-z][a-z0-9-]*' | sed 's/^[][ |]*//' | sort -u
}

_dfissue_readers() {
	local IFS=$'\n' r cur=$1
	for r in $("${_dfissue_bin:-dfissue}" readers --names 2>/dev/null); do
		r="pcsc:$r"
		[[ "$r" == "$cur"* ]] && printf '%q\n' "$r"
	done
}

_dfissue() {
	local cur prev cmd action i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	_dfissue_bin=${COMP_WORDS[0]}
	COMPREPLY=()

	cmd="" action=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${COMP_WORDS[i]}
			elif [[ -z $action ]]; then
				action=${COMP_WORDS[i]}
			fi
			;;
		esac
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_dfissue_commands)" -- "$cur")
		fi
		return 0
	fi

	# The options whose value is one of a few words.
	local words=""
	case $prev in
	--log-level) words="error warning notice info debug" ;;
	--tear-mode) words="before after" ;;
	--alg) words="ed25519 ecdsa-p256 auto" ;;
	--type) words="aes 2k3des 3k3des" ;;
	--derivation) words="auto sp800-108 ecb-encrypt-data cbc-encrypt-data host" ;;
	esac
	if [[ -n $words ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
		return 0
	fi

	case $prev in
	--reader)
		if [[ $cur == sim:* ]]; then
			local f
			while IFS= read -r f; do COMPREPLY+=("sim:$f"); done < <(compgen -f -- "${cur#sim:}")
		else
			local IFS=$'\n'
			mapfile -t COMPREPLY < <(_dfissue_readers "$cur")
			[[ "sim:" == "$cur"* ]] && COMPREPLY+=("sim:")
			compopt -o nospace 2>/dev/null
		fi
		return 0
		;;
	--journal)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0
		;;
	--profile | --batch | --config | --pin-file | --pubkey | --pubkey-out | --out | \
		--html | --last-seen | --component-file | --module | --journal-module | --journal-pin-file)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	esac

	local actions
	actions=$(_dfissue_actions "$cmd")
	if [[ -n $actions && -z $action && $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$actions" -- "$cur")
		return 0
	fi
	if [[ $cur == -* ]]; then
		local opts
		if [[ -n $action && -n $actions ]]; then
			opts=$(_dfissue_help "$cmd" "$action" | _dfissue_opts)
		else
			opts=$(_dfissue_help "$cmd" | _dfissue_opts)
		fi
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return 0
	fi
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -F _dfissue dfissue
