"""The command line, whichever API it serves."""

import os
import subprocess
import sys


def test_invalid_configuration_fails_with_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"],
        env=os.environ | {"HTTP_PORT": "not-a-port"},
        capture_output=True,
        check=False,
        timeout=30,
    )

    assert result.returncode == 2
    assert b"invalid configuration: HTTP_PORT" in result.stderr
    assert b"Traceback" not in result.stderr
