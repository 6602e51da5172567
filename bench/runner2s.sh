#!/bin/bash
# The `while true` replacement for bench_core.py's restart figure: a batch that works 2 s (or $2)
# and exits 0 by itself, as a PHP worker does after its batch. Appends "start PID TIME" first and
# "exit PID TIME" just before it exits; TIME is $EPOCHREALTIME (no fork), time.time()'s clock.
f=$1
printf 'start %s %s\n' "$$" "$EPOCHREALTIME" >> "$f"
sleep "${2:-2}"
printf 'exit %s %s\n' "$$" "$EPOCHREALTIME" >> "$f"
exit 0
