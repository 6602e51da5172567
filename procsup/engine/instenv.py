"""The environment variable that marks every process of an instance with its id: the spawn side
(instance, probes, tasks) sets it and the /proc side (proctree.py) reads it, so it sits below
both."""

#: Environment variable naming the instance a process belongs to; inherited by descendants,
#: so even a grandchild that double-forked and called setsid can be traced back to its instance.
INSTANCE_ENV = "PROCSUP_INSTANCE_ID"
