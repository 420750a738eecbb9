# bash completion for zonebox                                -*- shell-script -*-
# Subcommands; each command's flags as its own --help names them (so they
# cannot drift); values of --network, --cow-action, --output-action,
# --seccomp and -v's zone modes; session names and ids from `zonebox session
# list --json`; change-set ids from `zonebox diff --list --json`; image
# subcommands, and image names from `zonebox image list`; after --
# the command to run. Needs no bash-completion helpers, so it also works
# where that package is missing. Installed as
# $(BASHCOMPDIR)/zonebox (bash-completion loads it on first use).

_zonebox_flags() # ZB CMD...: the flags `ZB CMD... --help` names
{
        local zb=$1
        shift
        "$zb" "$@" --help 2>/dev/null |
                grep -oE -- '(^|[[:space:],])-{1,2}[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' ,\t' | sort -u
}

_zonebox_list() # ZB KEY CMD...: the KEY strings of the objects `ZB CMD... --json` lists
{
        local zb=$1 key=$2
        shift 2
        "$zb" "$@" --json 2>/dev/null | grep -oE "\"$key\": ?\"[^\"]*\"" | sed 's/.*"\([^"]*\)"$/\1/'
}

_zonebox_reply() # WORDS CUR: COMPREPLY from the words that start with CUR
{
        COMPREPLY=($(compgen -W "$1" -- "$2"))
}

_zonebox()
{
        # Words from the line itself: COMP_WORDS splits at ':', which -v's
        # HOST:DEST:MODE and --net-allow HOST:PORT contain.
        local line=${COMP_LINE:0:COMP_POINT}
        local cur=${line##*[[:space:]]}
        local -a words
        read -r -a words <<<"${line%"$cur"}"
        local zb=${words[0]} cmd=${words[1]:-} prev=${words[${#words[@]}-1]}
        local cword=${#words[@]} i
        COMPREPLY=()

        if ((cword == 1)); then
                _zonebox_reply "run session check doctor export diff commit discard image gc mcp serve version help" "$cur"
                return
        fi
        for ((i = 2; i < cword; i++)); do
                if [[ ${words[i]} == -- ]]; then # the command inside the sandbox
                        if ((i == cword - 1)); then
                                COMPREPLY=($(compgen -c -- "$cur"))
                        else
                                COMPREPLY=($(compgen -f -- "$cur"))
                        fi
                        return
                fi
        done

        local -a sub=("$cmd")
        case $cmd in
        session)
                if ((cword == 2)); then
                        _zonebox_reply "start exec list stop" "$cur"
                        return
                fi
                if [[ ${words[2]} == exec || ${words[2]} == stop ]] && ((cword == 3)); then
                        _zonebox_reply "$(_zonebox_list "$zb" name session list; _zonebox_list "$zb" id session list)" "$cur"
                        return
                fi
                [[ ${words[2]} == start ]] && sub=(run) # start takes every option of run
                ;;
        export)
                if ((cword == 2)); then
                        _zonebox_reply "docker oci kubernetes" "$cur"
                        return
                fi
                ;;
        image)
                if ((cword == 2)); then
                        _zonebox_reply "import list inspect rm prune" "$cur"
                        return
                fi
                if [[ ${words[2]} == inspect || ${words[2]} == rm ]] && ((cword == 3)); then
                        _zonebox_reply "$("$zb" image list 2>/dev/null | grep -oE '"name": ?"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')" "$cur"
                        return
                fi
                if [[ ${words[2]} == import ]] && ((cword == 3)); then
                        _zonebox_reply "oci: docker-archive:" "$cur"
                        [[ $cur == *:* ]] && COMPREPLY=($(compgen -f -- "${cur#*:}"))
                        [[ $cur == *:* && $COMP_WORDBREAKS != *:* ]] && COMPREPLY=("${COMPREPLY[@]/#/${cur%%:*}:}")
                        return
                fi
                return
                ;;
        diff | commit | discard)
                if [[ $cur != -* && $prev != --cow-dir ]]; then
                        _zonebox_reply "$(_zonebox_list "$zb" id diff --list)" "$cur"
                        [[ $cmd == diff ]] && COMPREPLY+=($(compgen -W "--list" -- "$cur"))
                        return
                fi
                ;;
        esac

        case $prev in
        --network) _zonebox_reply "none loopback host" "$cur"; return ;;
        --cow-action) _zonebox_reply "keep commit discard" "$cur"; return ;;
        --output-action) _zonebox_reply "truncate kill" "$cur"; return ;;
        --approve-default) _zonebox_reply "allow deny ask" "$cur"; return ;;
        --seccomp) COMPREPLY=($(compgen -W "default unconfined" -- "$cur") $(compgen -f -- "$cur")); return ;;
        --rootfs) COMPREPLY=($(compgen -W "host" -- "$cur") $(compgen -d -- "$cur")); return ;;
        --config | --audit-log | --events | --approver | --token-file | --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --cow-dir | --runtime-dir | -w | --workdir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        -v | --volume)
                if [[ $cur == *:*:* ]]; then # HOST:DEST:MODE
                        COMPREPLY=($(compgen -W "ro rw cow" -- "${cur##*:}"))
                elif [[ $cur != *:* ]]; then
                        COMPREPLY=($(compgen -d -- "$cur"))
                fi
                [[ $cur == *:* ]] || return
                # bash replaces only what follows the last ':' (COMP_WORDBREAKS).
                [[ $COMP_WORDBREAKS == *:* ]] || COMPREPLY=("${COMPREPLY[@]/#/${cur%:*}:}")
                return
                ;;
        esac
        if [[ $cur == -* ]]; then
                local -a s=("${sub[@]}")
                [[ $cmd == session ]] && s=(session)
                [[ $cmd == session && ${words[2]} == start ]] && s=(run)
                _zonebox_reply "$(_zonebox_flags "$zb" "${s[@]}"; [[ $cmd == session && ${words[2]} == start ]] && printf '%s\n' --name --idle-timeout --runtime-dir)" "$cur"
        fi
} &&
        complete -F _zonebox zonebox
