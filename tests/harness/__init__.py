"""What the tests know about the template, all of it read from the template itself.

``template`` reads cookiecutter.json, ``hook_modules`` loads the hooks' own tables,
``variants`` picks what to bake, ``cookies`` types pytest-cookies, ``pyenv`` and
``project_env`` give baked projects their interpreters, a clean environment and
the addresses of servers a run moved off their standard ports.
"""
