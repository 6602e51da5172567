"""The tasks layer: cron tasks. Schedules (pure "next fire after now"), the scheduler, one
task's policy and one run's mechanics with the keeper script beside it (run by path, stdlib
only), the flock and Redis locks, and the run history. It may import core/, config/ and the
engine pieces a run needs; it never imports control/, cli/ or tui/."""
