"""Bounded-context modules: one Django app each, talking to others only through ``contracts``."""
