"""``--format json-lines``: one JSON object per finding per line (the objects of ``--format json``)."""

from __future__ import annotations

import json

from kmigrate.report import Report
from kmigrate.report.json_ import diagnostic_json


def render(report: Report) -> str:
    return "".join(json.dumps(diagnostic_json(d), ensure_ascii=False) + "\n" for d in report.diagnostics)
