# bash completion for procsup.
#
# Install: copy to /etc/bash_completion.d/procsup (or
# ~/.local/share/bash-completion/completions/procsup), or `source` it from ~/.bashrc.
#
# Verbs and options follow procsup/cli/main.py. Program and instance names come from the running
# master (`procsup --no-autostart list --json`, task names from `procsup --no-autostart tasks
# --json`; a completion never starts a master), or, when none answers, from the config file
# (`procsup check --json`). -c/--socket given on the command line are passed along.

_procsup_names() {
    # $@: what to offer, any of "instances" (programs, name:N and all), "programs", "tasks"
    local want=" $* " live="" tasks="" check=""
    if [[ $want == *" instances "* || $want == *" programs "* ]]; then
        live=$(procsup "${_procsup_global[@]}" --no-autostart list --json 2>/dev/null) || live=""
    fi
    # Tasks: ask the master too, unless it just did not answer.
    if [[ $want == *" tasks "* && ( -n $live || $want == " tasks " ) ]]; then
        tasks=$(procsup "${_procsup_global[@]}" --no-autostart tasks --json 2>/dev/null) || tasks=""
    fi
    # Whatever the master did not tell: from the config file.
    if [[ -z $live && ( $want == *" instances "* || $want == *" programs "* ) ]] \
        || [[ -z $tasks && $want == *" tasks "* ]]; then
        check=$(procsup "${_procsup_global[@]}" check --json 2>/dev/null) || check=""
    fi
    [[ -n $live$tasks$check ]] || return 0
    printf '%s\0%s\0%s' "$live" "$tasks" "$check" | python3 -c '
import json, sys
def load(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
kinds = sys.argv[1].split()
live, tasks, check = map(load, sys.stdin.read().split("\0"))
if not isinstance(check, dict):
    check = {}
if isinstance(live, list):  # list --json: one row per instance
    programs = [r["program"] for r in live]
    instances = [r["name"] for r in live]
else:  # check --json: {"programs": {name: numprocs}, "tasks": {name: schedule}}
    programs = list(check.get("programs", {}))
    instances = [f"{p}:{n}" for p, c in check.get("programs", {}).items() for n in range(c)]
if isinstance(tasks, list):  # tasks --json: one object per task
    task_names = [t["name"] for t in tasks]
else:
    task_names = list(check.get("tasks", {}))
names = []
for kind in kinds:
    if kind == "programs":
        names += programs
    elif kind == "instances":
        names += programs + instances + ["all"]
    elif kind == "tasks":
        names += task_names
print("\n".join(dict.fromkeys(names)))
' "$*" 2>/dev/null
}

_procsup() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -n : || return
    else
        # Without bash-completion: split the line ourselves, so `worker:1` stays one word.
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra words <<<"$line"
        [[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=("")
        cword=$((${#words[@]} - 1))
        cur=${words[cword]}
        prev=${words[cword-1]}
    fi

    local verbs="daemon start stop restart signal list ls status logs scale remove tasks run
                 pause resume history reload shutdown info save events tui check init import startup describe show"
    local global_opts="-h --help -c --config --socket --host --no-autostart --version"

    # Find the verb and collect the global options to pass to procsup itself.
    local i verb="" verb_at=0
    _procsup_global=()
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -c|--config|--socket|--host)
                if [[ ${words[i+1]} == = ]]; then  # --config=x split at '=' by bash
                    _procsup_global+=("${words[i]}" "${words[i+2]}"); ((i += 2))
                else
                    _procsup_global+=("${words[i]}" "${words[i+1]}"); ((i++))
                fi ;;
            --config=*|--socket=*) _procsup_global+=("${words[i]}") ;;
            -*) ;;
            *) verb=${words[i]}; verb_at=$i; break ;;
        esac
    done

    if [[ -z $verb ]]; then
        case $prev in
            -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
            --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
            --host) return ;;  # a node name of the cluster
        esac
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        fi
        return
    fi

    # After `start … --` comes the ad-hoc program's command: complete commands and files.
    for ((i = verb_at + 1; i < cword; i++)); do
        if [[ ${words[i]} == -- ]]; then
            if ((i + 1 == cword)); then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    done

    # Positional words typed after the verb so far (options and their values skipped).
    local nargs=0
    for ((i = verb_at + 1; i < cword; i++)); do
        case ${words[i]} in
            -n|--name|--numprocs|--cwd|--lines|--since|--log-file|--screenshot) ((i++)) ;;
            -*) ;;
            *) ((nargs++)) ;;
        esac
    done

    local opts="" names=""
    case $verb in
        daemon)
            [[ $prev == --log-file ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; }
            opts="-f --foreground --log-file" ;;
        start)
            case $prev in
                -n|--name|--numprocs) return ;;
                --cwd) COMPREPLY=($(compgen -d -- "$cur")); return ;;
            esac
            opts="-n --name --numprocs --cwd --cluster --"
            names=instances ;;
        stop) opts="--everywhere --cluster"; names="instances tasks" ;;
        status) names=instances ;;
        reload) opts="--reset" ;;
        restart) opts="--rolling --cluster"; names=instances ;;
        list|ls) opts="--json --cluster"; names=instances ;;
        signal)
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP TTIN
                                         TTOU WINCH ALRM" -- "${cur^^}"))
                return
            fi
            opts="--cluster"; names=instances ;;
        logs)
            case $prev in
                -n|--lines|--since) return ;;
            esac
            opts="-f --follow -n --lines --stdout --stderr --since"
            ((nargs == 0)) && names="instances tasks" ;;
        scale) ((nargs == 0)) && names=programs ;;
        remove) ((nargs == 0)) && names=programs ;;
        tasks) opts="--json --cluster" ;;
        check) opts="--json --strict" ;;
        run) opts="--wait --cluster"; ((nargs == 0)) && names=tasks ;;
        pause|resume) names=tasks ;;
        history)
            case $prev in
                -n|--lines) return ;;
            esac
            opts="-n --lines --json --cluster"
            ((nargs == 0)) && names=tasks ;;
        tui)
            [[ $prev == --screenshot ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; }
            opts="--screenshot" ;;
        init)
            ((nargs == 0)) && COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        *) return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts -h --help" -- "$cur"))
    elif [[ -n $names ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$(_procsup_names "$names")" -- "$cur"))
        # `worker:1`: bash splits words at ':'; drop what is already typed before it.
        if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
            local prefix=${cur%"${cur##*:}"}
            for i in "${!COMPREPLY[@]}"; do
                COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
            done
        fi
    fi
}

complete -F _procsup procsup
