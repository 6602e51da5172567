"""`procsup tui`: a Textual dashboard that is a client of the control protocol and nothing else.

Modules: `source` (the asyncio protocol client), `store` (snapshot + events + stats → rows, pure),
`fmt` (cells and lines for people), `instances`/`tasks`/`logpane` (widgets), `screens` (modal
screens), `app` (the app and `run_tui`). Textual is imported only inside this package. It may
import core/, config/ and control/ (the master only through a protocol client), never engine/,
tasks/ or cli/.
"""
