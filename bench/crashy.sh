#!/bin/bash
# Restart-latency child for bench_core.py (bash, not python: its start-up costs ~1 ms, not ~20 ms).
# Appends "start PID TIME" as its first output; on SIGUSR1 appends "exit PID TIME" and exits 1.
# TIME is $EPOCHREALTIME (bash builtin, no fork), the same clock as python's time.time().
# The trap is set before the start line (so a USR1 sent on seeing it never kills bash untrapped)
# and kills the background sleep via $! (set the moment it is forked), so no sleep outlives us.
f=$1
trap 'kill $! 2>/dev/null; printf "exit %s %s\n" "$$" "$EPOCHREALTIME" >> "$f"; exit 1' USR1
printf 'start %s %s\n' "$$" "$EPOCHREALTIME" >> "$f"
while :; do
    sleep 3600 &
    wait $!
done
