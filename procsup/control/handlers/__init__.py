"""The control commands, one module per area: base (the program and instance commands, and the
connection a handler writes to), state (stop, reload), tasks and logs; table.py lists them all.
Each handler checks its arguments (args.py), calls the engine through view.MasterView and shapes
the reply; handlers may import core/, config/, engine/, tasks/ and control/ (never cli/ or
tui/)."""
