"""Servers the harness starts for a run when nothing listens on their port."""
