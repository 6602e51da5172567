"""`python -m procsup` is the CLI; the background master is started this way too."""

from procsup.cli.main import main

raise SystemExit(main())
