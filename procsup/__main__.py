"""`python -m procsup` and the `procsup` script: the CLI; the background master is started this
way too.

This is where the layers are put together: the CLI and the TUI sit side by side and neither
imports the other, so the CLI is handed `run_tui` here (textual is imported only when the `tui`
verb runs it).
"""

from procsup.cli.main import main as cli_main


def run_tui(socket: str, screenshot: str | None = None) -> int:
    from procsup.tui.run import run_tui as run

    return run(socket, screenshot)


def main() -> int:
    return cli_main(tui=run_tui)


if __name__ == "__main__":
    raise SystemExit(main())
