"""Scripts that rewrite committed files from what the template itself produces.

Run one with ``uv run python tests/regenerate/<name>.py``; a test fails when its
output drifts from the committed file.
"""
