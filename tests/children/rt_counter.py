#!/usr/bin/env python3
"""Counts deliveries of SIGRTMIN exactly: real-time signals queue (one per send, never merged),
and it takes them one at a time with sigwaitinfo, printing `rtmin N`; SIGRTMAX prints `rtmax N`.
Pending signals are taken lowest number first, so RTMAX marks that every RTMIN sent before it
has been counted."""

import signal

wanted = {signal.SIGRTMIN, signal.SIGRTMAX}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
counts = {signal.SIGRTMIN: 0, signal.SIGRTMAX: 0}
print("ready", flush=True)
while True:
    sig = signal.Signals(signal.sigwaitinfo(wanted).si_signo)
    print(f"{sig.name[3:].lower()} {counts[sig]}", flush=True)
    counts[sig] += 1
