"""The layers as the imports show them, each checked in a fresh interpreter (this test process
has long imported everything): the app never loads its production host."""

from __future__ import annotations

import json
import subprocess
import sys


def _loaded_after(code: str, *prefixes: str) -> list[str]:
    """The modules under ``prefixes`` that a fresh interpreter has loaded after ``code``."""
    probe = (
        f"import json, sys\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_building_the_app_loads_no_production_host() -> None:
    code = (
        "from stract_reports import close_app, create_app\n"
        "from stract_reports.config import Settings\n"
        "close_app(create_app(settings=Settings()))"
    )
    assert _loaded_after(code, "flask") != []  # the probe sees what the app loads
    assert _loaded_after(code, "waitress", "stract_reports.serving", "stract_reports.cli") == []
