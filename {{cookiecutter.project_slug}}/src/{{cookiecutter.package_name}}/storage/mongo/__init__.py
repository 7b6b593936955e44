"""MongoDB adapter: PyMongo's native async API, schema managed by ordered migrations."""
