"""The service's commands: one module per choice that brings some.

Each module here has ``register(commands)``, which adds its subcommands; the
command line registers every module of this package, so a module kept by the
template is a command offered, with nothing else to wire.
"""
