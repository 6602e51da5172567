#compdef procsup
# zsh completion for procsup.
#
# Install: copy to a folder in $fpath as `_procsup`, e.g.
#   mkdir -p ~/.zfunc && cp contrib/completions/procsup.zsh ~/.zfunc/_procsup
#   # in ~/.zshrc, before compinit:  fpath=(~/.zfunc $fpath)
#
# Verbs and options follow procsup/cli/main.py. Program and instance names come from the running
# master (`procsup --no-autostart list --json`, task names from `procsup --no-autostart tasks
# --json`; a completion never starts a master), or, when none answers, from the config file
# (`procsup check --json`).

# $1: what to offer, any of instances (programs, name:N and all), programs, tasks (space
# separated); the rest: -c/--socket options to pass on.
_procsup_names() {
  local want=" $1 " live= tasks= check=; shift
  if [[ $want == *" instances "* || $want == *" programs "* ]]; then
    live=$(procsup "$@" --no-autostart list --json 2>/dev/null) || live=
  fi
  # Tasks: ask the master too, unless it just did not answer.
  if [[ $want == *" tasks "* && ( -n $live || $want == " tasks " ) ]]; then
    tasks=$(procsup "$@" --no-autostart tasks --json 2>/dev/null) || tasks=
  fi
  # Whatever the master did not tell: from the config file.
  if [[ -z $live && ( $want == *" instances "* || $want == *" programs "* ) ]] \
    || [[ -z $tasks && $want == *" tasks "* ]]; then
    check=$(procsup "$@" check --json 2>/dev/null) || check=
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
' "$want" 2>/dev/null
}

_procsup_complete_names() {
  local kinds=$1
  local -a names
  # _procsup_global: -c/--socket from the command line, set by _procsup (dynamic scope)
  names=("${(@f)$(_procsup_names $kinds $_procsup_global)}")
  names=(${names:#})
  # -Q: names like worker:1 are offered as they are (a ':' needs no quoting here)
  compadd -Q -a names
}

_procsup_instances() { _procsup_complete_names instances }
_procsup_programs() { _procsup_complete_names programs }
_procsup_tasks() { _procsup_complete_names tasks }
_procsup_logs_names() { _procsup_complete_names 'instances tasks' }

_procsup() {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args

  _arguments -C \
    '(- *)'{-h,--help}'[show help]' \
    '(- *)--version[show the version]' \
    '(-c --config)'{-c+,--config=}'[config file]:config file:_files -g "*.toml(-.)"' \
    '--socket=[control socket path]:socket:_files' \
    '--no-autostart[never start a master in the background]' \
    '--host=[act on this node of the cluster, through Redis]:node:' \
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
        'stop:stop programs (whole process trees) or the runs of a task'
        'restart:restart programs'
        'signal:send a signal to programs'\'' process trees'
        'list:show every instance'
        'ls:show every instance'
        'status:exit 0 only if all named instances are RUNNING'
        'logs:show or follow output'
        'scale:change a program'\''s numprocs at run time'
        'remove:stop a program and drop it'
        'tasks:show tasks: schedule, next run, last result'
        'run:run a task now (through its lock)'
        'pause:pause tasks'\''s schedules (kept over restarts)'
        'resume:let paused tasks fire on their schedule again'
        'history:show the runs and skips of tasks'
        'reload:apply the changed config file (--reset: exactly as written)'
        'shutdown:stop everything and the master'
        'info:the running master: version, pid, process tracking'
        'save:write the running set into the config file'
        'events:print the master'\''s event stream as JSON lines'
        'tui:the live dashboard'
        'check:validate the config and show what would run'
        'init:write a starter procsup.toml'
        'import:convert supervisord / pm2 / Procfile / crontab setups to procsup TOML'
        'startup:write the systemd unit for this config'
        'describe:everything about one program or task'
        'show:everything about one program or task'
      )
      _describe -t commands 'procsup command' verbs && ret=0
      ;;
    args)
      curcontext=${curcontext%:*:*}:procsup-$line[1]:
      case $line[1] in
        daemon)
          _arguments \
            '(-f --foreground)'{-f,--foreground}'[stay in the foreground]' \
            '--log-file=[with -f: log to this rotating file instead of stderr]:log file:_files' \
            && ret=0 ;;
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
        stop)
          _arguments '--everywhere[a singleton is not taken over by another host]' \
            '--cluster[every host of the cluster, through Redis]' '*:name:_procsup_logs_names' && ret=0 ;;
        status)
          _arguments '*:name:_procsup_instances' && ret=0 ;;
        reload)
          _arguments '--reset[apply the file exactly as written; drop run-time changes]' && ret=0 ;;
        restart)
          _arguments '--rolling[one instance at a time]' '--cluster[every host of the cluster, through Redis]' \
            '*:name:_procsup_instances' && ret=0 ;;
        list|ls)
          _arguments '--json[machine-readable output]' '--cluster[every host of the cluster, through Redis]' \
            '*:name:_procsup_instances' && ret=0 ;;
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
            '1:name:_procsup_logs_names' && ret=0 ;;
        scale)
          _arguments '1:program:_procsup_programs' '2:numprocs: ' && ret=0 ;;
        remove)
          _arguments '1:program:_procsup_programs' && ret=0 ;;
        tasks)
          _arguments '--json[machine-readable output]' '--cluster[every host of the cluster, through Redis]' && ret=0 ;;
        check)
          _arguments '--json[machine-readable output]' '--strict[exit 1 on warnings]' && ret=0 ;;
        run)
          _arguments \
            '--wait[wait for the run to end and exit with its exit code]' \
            '--cluster[every host of the cluster, through Redis]' \
            '1:task:_procsup_tasks' && ret=0 ;;
        pause|resume)
          _arguments '*:task:_procsup_tasks' && ret=0 ;;
        history)
          _arguments \
            '(-n --lines)'{-n+,--lines=}'[how many runs, newest first]:runs: ' \
            '--json[machine-readable output]' \
            '--cluster[every host of the cluster, through Redis]' \
            '1:task:_procsup_tasks' && ret=0 ;;
        tui)
          _arguments '--screenshot=[save the dashboard as an SVG file and exit]:file:_files' \
            && ret=0 ;;
        init)
          _arguments '1:path:_files' && ret=0 ;;
      esac
      ;;
  esac
  return ret
}

_procsup "$@"
