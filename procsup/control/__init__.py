"""The control layer: the unix-socket protocol between the master and its clients. protocol
(framing, codes) and client (what the CLI and TUI use) import only core/ and the standard
library; the server side (server, listener, handlers/, and the facade the handlers see the
master through) translates requests into engine calls and is the only part of control/ that may
import engine/ and tasks/. compose.run_master builds the master with its scheduler and server."""
