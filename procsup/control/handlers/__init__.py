"""The control commands, one module per area: base (the command table and the program and
instance commands), state (stop, reload), tasks and logs. Each handler checks its arguments,
calls the engine and shapes the reply; handlers may import core/, config/, engine/, tasks/ and
control/ (never cli/ or tui/)."""
