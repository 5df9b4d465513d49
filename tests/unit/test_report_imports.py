"""The charting dependency loads only in the report function: ``import app`` (every handler's cold start) must not
import matplotlib, numpy or Pillow, nor the report's renderer; rendering a report does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("matplotlib", "numpy", "PIL", "chalicelib.adapters.report_render")


def loaded_after(code: str) -> dict[str, bool]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
    env = {**os.environ, "STAGE": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_app_loads_no_charting_library():
    assert loaded_after(
        "import app\nassert any(s.name == 'weekly_report' for s in app.app.event_sources)"
    ) == dict.fromkeys(HEAVY, False)


def test_the_report_routes_and_use_cases_load_none_either():
    assert not any(
        loaded_after(
            "import chalicelib.api.reports, chalicelib.services.reports, "
            "chalicelib.domain.report, chalicelib.adapters.report_sender"
        ).values()
    )


def test_drawing_the_charts_loads_matplotlib():
    code = (
        "from datetime import datetime, timezone\n"
        "from chalicelib.domain.business_hours import TeamHours\n"
        "from chalicelib.domain.report import ReportInput, build_report\n"
        "from chalicelib.adapters.report_render import draw_charts\n"
        "report = build_report(ReportInput(week='2026-W48', issues=[], history={}, hours=TeamHours(), "
        "time_zone='UTC', now=datetime(2026, 11, 30, tzinfo=timezone.utc)))\n"
        "charts = draw_charts(report)\n"
        "assert all(png.startswith(b'\\x89PNG') for png in charts.values()) and len(charts) == 5\n"
    )
    assert loaded_after(code)["matplotlib"]
