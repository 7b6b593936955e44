"""Modules generated from ``proto/``: never edit them, regenerate them."""
