"""Run every benchmark in this folder."""

from __future__ import annotations

import runpy
from pathlib import Path

for path in sorted(Path(__file__).parent.glob("*.py")):
    if path.name != "run_all.py" and not path.name.startswith("_"):
        print(f"== {path.name}")
        runpy.run_path(str(path), run_name="__main__")
