"""REST over HTTP with FastAPI."""
