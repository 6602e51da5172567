#compdef procsup
# zsh completion for procsup.
#
# Install: copy to a folder in $fpath as `_procsup`, e.g.
#   mkdir -p ~/.zfunc && cp contrib/completions/procsup.zsh ~/.zfunc/_procsup
#   # in ~/.zshrc, before compinit:  fpath=(~/.zfunc $fpath)
#
# Verbs and options follow procsup/cli.py. Program and instance names come from the running
# master (`procsup --no-autostart list --json`; a completion never starts a master), or, when
# none answers, from the config file (`procsup check --json`).

# $1: instances (programs, name:N and all) or programs; the rest: -c/--socket options to pass on.
_procsup_names() {
  local kind=$1; shift
  local json
  json=$(procsup "$@" --no-autostart list --json 2>/dev/null) \
    || json=$(procsup "$@" check --json 2>/dev/null) \
    || return 0
  print -r -- "$json" | python3 -c '
import json, sys
kind = sys.argv[1]
try:
    data = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
if isinstance(data, list):  # list --json: one row per instance
    programs = [r["program"] for r in data]
    instances = [r["name"] for r in data]
else:  # check --json: {"programs": {name: numprocs}}
    programs = list(data.get("programs", {}))
    instances = [f"{p}:{n}" for p, c in data.get("programs", {}).items() for n in range(c)]
names = programs if kind == "programs" else programs + instances + ["all"]
print("\n".join(dict.fromkeys(names)))
' "$kind" 2>/dev/null
}

_procsup_complete_names() {
  local kind=$1
  local -a names
  # _procsup_global: -c/--socket from the command line, set by _procsup (dynamic scope)
  names=("${(@f)$(_procsup_names $kind $_procsup_global)}")
  names=(${names:#})
  # -Q: names like worker:1 are offered as they are (a ':' needs no quoting here)
  compadd -Q -a names
}

_procsup_instances() { _procsup_complete_names instances }
_procsup_programs() { _procsup_complete_names programs }

_procsup() {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args

  _arguments -C \
    '(- *)'{-h,--help}'[show help]' \
    '(- *)--version[show the version]' \
    '(-c --config)'{-c+,--config=}'[config file]:config file:_files -g "*.toml(-.)"' \
    '--socket=[control socket path]:socket:_files' \
    '--no-autostart[never start a master in the background]' \
    '1:command:->verb' \
    '*::arg:->args' && ret=0

  # The nested _arguments below reset opt_args: keep the global options for name lookups.
  local -a _procsup_global
  [[ -n ${opt_args[-c]} ]] && _procsup_global+=(-c "${(Q)opt_args[-c]}")
  [[ -n ${opt_args[--config]} ]] && _procsup_global+=(-c "${(Q)opt_args[--config]}")
  [[ -n ${opt_args[--socket]} ]] && _procsup_global+=(--socket "${(Q)opt_args[--socket]}")

  case $state in
    verb)
      local -a verbs
      verbs=(
        'daemon:start the master (in the background unless -f)'
        'start:start programs, or add one: start -n NAME -- CMD…'
        'stop:stop programs and their whole process trees'
        'restart:restart programs'
        'signal:send a signal to programs'\'' process trees'
        'list:show every instance'
        'ls:show every instance'
        'status:exit 0 only if all named instances are RUNNING'
        'logs:show or follow output'
        'scale:change a program'\''s numprocs at run time'
        'remove:stop a program and drop it'
        'reload:apply the changed config file'
        'shutdown:stop everything and the master'
        'save:write the running set into the config file'
        'events:print the master'\''s event stream as JSON lines'
        'check:validate the config and show what would run'
        'init:write a starter procsup.toml'
      )
      _describe -t commands 'procsup command' verbs && ret=0
      ;;
    args)
      curcontext=${curcontext%:*:*}:procsup-$line[1]:
      case $line[1] in
        daemon)
          _arguments '(-f --foreground)'{-f,--foreground}'[stay in the foreground]' && ret=0 ;;
        start)
          if (( ${words[(I)--]} && ${words[(I)--]} < CURRENT )); then
            # the ad-hoc program's command after `--`
            local dashes=${words[(I)--]}
            words=("${(@)words[dashes+1,-1]}")
            (( CURRENT -= dashes ))
            _normal && ret=0
          else
            _arguments \
              '(-n --name)'{-n+,--name=}'[add an ad-hoc program with this name]:name: ' \
              '--numprocs=[instances of the ad-hoc program]:count: ' \
              '--cwd=[working directory of the ad-hoc program]:directory:_directories' \
              '*:name:_procsup_instances' && ret=0
          fi ;;
        stop|status)
          _arguments '*:name:_procsup_instances' && ret=0 ;;
        restart)
          _arguments '--rolling[one instance at a time]' '*:name:_procsup_instances' && ret=0 ;;
        list|ls)
          _arguments '--json[machine-readable output]' '*:name:_procsup_instances' && ret=0 ;;
        signal)
          _arguments \
            '1:signal:(HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP TTIN TTOU WINCH ALRM)' \
            '*:name:_procsup_instances' && ret=0 ;;
        logs)
          _arguments \
            '(-f --follow)'{-f,--follow}'[keep streaming new lines]' \
            '(-n --lines)'{-n+,--lines=}'[how many recent lines]:lines: ' \
            '(--stderr)--stdout[stdout only]' \
            '(--stdout)--stderr[stderr only]' \
            '--since=[only lines newer than this (10m, 1h)]:duration: ' \
            '1:name:_procsup_instances' && ret=0 ;;
        scale)
          _arguments '1:program:_procsup_programs' '2:numprocs: ' && ret=0 ;;
        remove)
          _arguments '1:program:_procsup_programs' && ret=0 ;;
        check)
          _arguments '--json[machine-readable output]' && ret=0 ;;
        init)
          _arguments '1:path:_files' && ret=0 ;;
      esac
      ;;
  esac
  return ret
}

_procsup "$@"
