"""Persistence: the storage port and the adapter of the chosen database."""
