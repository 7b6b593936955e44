"""Logs, and (as the service grows) metrics and traces."""
