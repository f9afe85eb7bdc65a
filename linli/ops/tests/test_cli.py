import io
import subprocess
import sys
from contextlib import redirect_stdout

import pytest

from linli.cli import VERBS, main


def test_help_lists_every_command():
    out = io.StringIO()
    with redirect_stdout(out):
        main(["--help"])
    for verb in VERBS:
        assert f"  {verb}" in out.getvalue()


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "unknown command" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "linli.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "linli <command>" in result.stdout
