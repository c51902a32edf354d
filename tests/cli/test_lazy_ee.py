"""The command line imports ``ee`` only for a verb that talks to an engine.

Importing the command line, building its parsers and the progress display load no
``earthengine-api`` (about 0.5 s to import): ``cli.progress`` and ``cli.export`` import it
(through ``cloud.tasks`` and ``workflow.export_run``) only when a bar is drawn or an export
runs. Checked in a fresh interpreter
(``sys.modules`` after the statement), not by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        "import gee_cscc.cli.main",
        "import gee_cscc.cli.export",
        "import gee_cscc.cli.progress",
    ],
)
def test_cli_paths_without_an_engine_load_no_ee(statement):
    loaded = _loaded_after(statement)
    assert "ee" not in loaded
    assert "gee_cscc.cloud.tasks" not in loaded


def test_a_progress_bar_still_gets_its_terminal_size_options():
    # The bar's options come from cloud.tasks, imported when the first bar is drawn.
    loaded = _loaded_after(
        "import io\n"
        "from gee_cscc.cli.progress import Progress\n"
        "class Tty(io.StringIO):\n"
        "    def isatty(self):\n"
        "        return True\n"
        "stream = Tty()\n"
        "p = Progress(stream=stream)\n"
        "tick = p.counter('tiles pulled', unit='tiles')\n"
        "tick(1, 4)\n"
        "tick(4, 4)\n"
        "p.close()\n"
        "assert '4/4 tiles' in stream.getvalue(), stream.getvalue()"
    )
    assert "gee_cscc.cloud.tasks" in loaded
