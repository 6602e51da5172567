#!/usr/bin/env python3
"""Writes lines full of terminal controls and in-line separators, then `done`, then sleeps:
an OSC title change, a colour, a screen clear, a C1 CSI, and \\r, \\x0b, \\x0c, U+2028 inside
lines (which must not split them)."""

import sys
import time

out = sys.stdout.buffer
out.write(b"title \x1b]0;pwned\x07 red \x1b[31mRED\x1b[0m clear \x1b[2J c1 \xc2\x9b tab\tend\n")
out.write("one\rtwo\x0bthree\x0cfour\u2028five\u0085six\x1cseven\n".encode())
out.write(b"done\n")
out.flush()
while True:
    time.sleep(3600)
