"""The master's side of a cluster (SPEC §7, README "Many hosts"): heartbeats into Redis."""
