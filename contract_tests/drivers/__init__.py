"""Drivers: each runs a client on one generated example (Python adapters, or a command in any language)."""
