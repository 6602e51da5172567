"""`procsup tui`: a Textual dashboard that is a client of the control protocol and nothing else.

Modules: `source` (the narrow interface the app needs, over control.client's asyncio face),
`store` (snapshot + events + stats → rows, pure; the rows are core/schema's), `fmt` (cells and
lines for people, on core/humanize), `instances`/`tasks`/`logpane` (widgets), `screens` (modal
screens), `app` (the app), `shot` (one screenshot), `run` (`run_tui(socket, screenshot=None)`,
which procsup/__main__.py hands to the CLI). Textual is imported only inside this package. It may
import core/, config/ and control/ (the master only through a protocol client), never engine/,
tasks/ or cli/.
"""
