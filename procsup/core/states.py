"""Process states, the groups they fall into, and the transitions allowed between them.

The words are supervisord's, which our users already know. The engine sets and publishes them;
this module imports nothing from procsup, so any layer (CLI, TUI, scripts) can import it cheaply.
"""

from enum import StrEnum


class State(StrEnum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    EXITED = "EXITED"
    FATAL = "FATAL"


#: A process exists (has a pid) in these states.
RUNNING_STATES = frozenset({State.STARTING, State.RUNNING, State.STOPPING})
#: No process and nothing pending: a `start` may begin from here.
STOPPED_STATES = frozenset({State.STOPPED, State.EXITED, State.FATAL})
#: States that a user would want to see highlighted as a problem.
FAILED_STATES = frozenset({State.BACKOFF, State.FATAL})

_ALLOWED: dict[State, frozenset[State]] = {
    State.STOPPED: frozenset({State.STARTING}),
    State.STARTING: frozenset(
        {State.RUNNING, State.BACKOFF, State.STOPPING, State.EXITED, State.FATAL}
    ),
    State.RUNNING: frozenset({State.STOPPING, State.EXITED, State.BACKOFF, State.STARTING}),
    State.BACKOFF: frozenset({State.STARTING, State.STOPPED, State.FATAL}),
    State.STOPPING: frozenset({State.STOPPED}),
    State.EXITED: frozenset({State.STARTING}),
    State.FATAL: frozenset({State.STARTING}),
}


def can_transition(old: State, new: State) -> bool:
    """True when `old -> new` is a transition the state machine allows."""
    return new in _ALLOWED[old]
