"""The orders domain: models, rules and errors, free of I/O."""
