# fish completion for procsup.
#
# Install: cp contrib/completions/procsup.fish ~/.config/fish/completions/procsup.fish
#
# Verbs and options follow procsup/cli/main.py. Program and instance names come from the running
# master (`procsup --no-autostart list --json`, task names from `procsup --no-autostart tasks
# --json`; a completion never starts a master), or, when none answers, from the config file
# (`procsup check --json`). -c/--socket given on the command line are passed along.

set -l __procsup_verbs daemon start stop restart signal list ls status logs scale remove tasks run pause resume history reload shutdown info save events tui check init import startup describe show

# -c/--config and --socket as typed so far, to ask the same master.
function __procsup_global_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l out
    while set -q tokens[1]
        switch $tokens[1]
            case -c --config --socket
                if set -q tokens[2]
                    set -a out $tokens[1] $tokens[2]
                    set -e tokens[1]
                end
            case '--config=*' '--socket=*'
                set -a out $tokens[1]
            case '-*'
            case '*'
                break
        end
        set -e tokens[1]
    end
    string join \n -- $out
end

# $argv: what to offer, any of instances (programs, name:N and all), programs, tasks
function __procsup_names
    set -l global (__procsup_global_args)
    set -l live
    set -l tasks
    set -l check
    set -l want_live 0
    contains instances $argv; or contains programs $argv; and set want_live 1
    if test $want_live -eq 1
        set live (procsup $global --no-autostart list --json 2>/dev/null); or set live
    end
    # Tasks: ask the master too, unless it just did not answer.
    if contains tasks $argv; and begin; set -q live[1]; or test $want_live -eq 0; end
        set tasks (procsup $global --no-autostart tasks --json 2>/dev/null); or set tasks
    end
    # Whatever the master did not tell: from the config file.
    if begin; test $want_live -eq 1; and not set -q live[1]; end
        or begin; contains tasks $argv; and not set -q tasks[1]; end
        set check (procsup $global check --json 2>/dev/null); or set check
    end
    set -q live[1]; or set -q tasks[1]; or set -q check[1]; or return 0
    begin
        string join \n -- $live; printf '\0'
        string join \n -- $tasks; printf '\0'
        string join \n -- $check
    end | python3 -c '
import json, sys
def load(text):
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None
kinds = sys.argv[1:]
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
' $argv 2>/dev/null
end

# How many positional words follow the verb (options and their values skipped).
function __procsup_nargs
    set -l tokens (commandline -opc)
    set -l seen_verb 0
    set -l n 0
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case -c --config --socket -n --name --numprocs --cwd --lines --since --log-file --screenshot
                set skip 1
            case '-*'
            case '*'
                if test $seen_verb -eq 0
                    set seen_verb 1
                else
                    set n (math $n + 1)
                end
        end
    end
    echo $n
end

function __procsup_after_dashdash
    contains -- -- (commandline -opc)
end

complete -c procsup -f

# global options (before the verb)
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -s h -l help -d 'show help'
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -s c -l config -r -F -d 'config file'
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -l socket -r -F -d 'control socket path'
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -l no-autostart -d 'never start a master in the background'
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -l host -x -d 'act on this node of the cluster, through Redis'
complete -c procsup -n "__fish_seen_subcommand_from start stop restart signal run list tasks history" -l cluster -d 'every host of the cluster, through Redis'
complete -c procsup -n "__fish_seen_subcommand_from stop" -l everywhere -d 'a singleton is not taken over by another host'
complete -c procsup -n "not __fish_seen_subcommand_from $__procsup_verbs" -l version -d 'show the version'

# verbs
set -l c "not __fish_seen_subcommand_from $__procsup_verbs"
complete -c procsup -n $c -a daemon -d 'start the master (in the background unless -f)'
complete -c procsup -n $c -a start -d 'start programs, or add one: start -n NAME -- CMD…'
complete -c procsup -n $c -a stop -d 'stop programs (whole process trees) or the runs of a task'
complete -c procsup -n $c -a restart -d 'restart programs'
complete -c procsup -n $c -a signal -d "send a signal to programs' process trees"
complete -c procsup -n $c -a 'list ls' -d 'show every instance'
complete -c procsup -n $c -a status -d 'exit 0 only if all named instances are RUNNING'
complete -c procsup -n $c -a logs -d 'show or follow output'
complete -c procsup -n $c -a scale -d "change a program's numprocs at run time"
complete -c procsup -n $c -a remove -d 'stop a program and drop it'
complete -c procsup -n $c -a tasks -d 'show tasks: schedule, next run, last result'
complete -c procsup -n $c -a run -d 'run a task now (through its lock)'
complete -c procsup -n $c -a pause -d "pause tasks' schedules (kept over restarts)"
complete -c procsup -n $c -a resume -d 'let paused tasks fire on their schedule again'
complete -c procsup -n $c -a history -d 'show the runs and skips of tasks'
complete -c procsup -n $c -a reload -d 'apply the changed config file (--reset: exactly as written)'
complete -c procsup -n $c -a shutdown -d 'stop everything and the master'
complete -c procsup -n $c -a info -d 'the running master: version, pid, process tracking'
complete -c procsup -n $c -a save -d 'write the running set into the config file'
complete -c procsup -n $c -a events -d "print the master's event stream as JSON lines"
complete -c procsup -n $c -a tui -d 'the live dashboard'
complete -c procsup -n $c -a check -d 'validate the config and show what would run'
complete -c procsup -n $c -a init -d 'write a starter procsup.toml'
complete -c procsup -n $c -a import -d 'convert supervisord / pm2 / Procfile / crontab setups'
complete -c procsup -n $c -a startup -d 'write the systemd unit for this config'
complete -c procsup -n $c -a 'describe show' -d 'everything about one program or task'
complete -c procsup -n '__fish_seen_subcommand_from import' -l from -xa 'supervisord pm2 procfile crontab'
complete -c procsup -n '__fish_seen_subcommand_from import' -s o -l output -F
complete -c procsup -n '__fish_seen_subcommand_from import' -l force -l env
complete -c procsup -n '__fish_seen_subcommand_from startup' -l user -l print

# daemon
complete -c procsup -n '__fish_seen_subcommand_from daemon' -s f -l foreground -d 'stay in the foreground'
complete -c procsup -n '__fish_seen_subcommand_from daemon' -l log-file -r -F -d 'with -f: log to this rotating file instead of stderr'

# start: names, or an ad-hoc program (-n NAME -- CMD…)
set -l s '__fish_seen_subcommand_from start; and not __procsup_after_dashdash'
complete -c procsup -n $s -a '(__procsup_names instances)'
complete -c procsup -n $s -s n -l name -x -d 'add an ad-hoc program with this name'
complete -c procsup -n $s -l numprocs -x -d 'instances of the ad-hoc program'
complete -c procsup -n $s -l cwd -x -a '(__fish_complete_directories)' -d 'working directory of the ad-hoc program'
complete -c procsup -n '__fish_seen_subcommand_from start; and __procsup_after_dashdash' -F -a '(__fish_complete_command)'

# names
complete -c procsup -n '__fish_seen_subcommand_from status restart list ls' -a '(__procsup_names instances)'
complete -c procsup -n '__fish_seen_subcommand_from stop' -a '(__procsup_names instances tasks)'
complete -c procsup -n '__fish_seen_subcommand_from reload' -l reset -d 'apply the file exactly as written'
complete -c procsup -n '__fish_seen_subcommand_from restart' -l rolling -d 'one instance at a time'
complete -c procsup -n '__fish_seen_subcommand_from list ls tasks history check' -l json -d 'machine-readable output'

# signal SIG NAME…
complete -c procsup -n '__fish_seen_subcommand_from signal; and test (__procsup_nargs) -eq 0' -a 'HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP TTIN TTOU WINCH ALRM'
complete -c procsup -n '__fish_seen_subcommand_from signal; and test (__procsup_nargs) -ge 1' -a '(__procsup_names instances)'

# logs [NAME]
set -l l '__fish_seen_subcommand_from logs'
complete -c procsup -n "$l; and test (__procsup_nargs) -eq 0" -a '(__procsup_names instances tasks)'
complete -c procsup -n $l -s f -l follow -d 'keep streaming new lines'
complete -c procsup -n $l -s n -l lines -x -d 'how many recent lines'
complete -c procsup -n $l -l stdout -d 'stdout only'
complete -c procsup -n $l -l stderr -d 'stderr only'
complete -c procsup -n $l -l since -x -d 'only lines newer than this (10m, 1h)'

# scale PROGRAM N, remove PROGRAM
complete -c procsup -n '__fish_seen_subcommand_from scale remove; and test (__procsup_nargs) -eq 0' -a '(__procsup_names programs)'

# pause TASK…, resume TASK…
complete -c procsup -n '__fish_seen_subcommand_from pause resume' -a '(__procsup_names tasks)'
# run TASK, history [TASK]
complete -c procsup -n '__fish_seen_subcommand_from run history; and test (__procsup_nargs) -eq 0' -a '(__procsup_names tasks)'
complete -c procsup -n '__fish_seen_subcommand_from run' -l wait -d 'wait for the run to end and exit with its exit code'
complete -c procsup -n '__fish_seen_subcommand_from history' -s n -l lines -x -d 'how many runs, newest first'

# tui [--screenshot FILE]
complete -c procsup -n '__fish_seen_subcommand_from tui' -l screenshot -r -F -d 'save the dashboard as an SVG file and exit'

# init [PATH]
complete -c procsup -n '__fish_seen_subcommand_from init' -F
