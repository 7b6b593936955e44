"""Use cases: what the service does, independent of transport and database."""
