"""The core layer: the vocabulary every other layer shares. Process states, the pure converters
for config values and their formatting for people (durations, sizes, signals), and finding the
config file and the socket. Modules here import only the standard library and each other, never
another procsup package, so anything may import them (`procsup list` included) at no cost."""
