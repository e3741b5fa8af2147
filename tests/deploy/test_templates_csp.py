"""Pages keep working under the production content security policy (`script-src 'self'`):
no template may carry inline script, which the browser would refuse to run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
# data-* JSON blocks are data, not code: the browser does not execute them.
DATA_BLOCK = re.compile(r"type=[\"']application/(ld\+)?json[\"']", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\s(on[a-z]+)\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"(href|src|action)\s*=\s*[\"']\s*javascript:", re.IGNORECASE)


def templates() -> list[Path]:
    found = set((ROOT / "apps").glob("*/templates/**/*.html"))
    found |= set((ROOT / "templates").glob("**/*.html"))
    return sorted(found)


def violations(text: str) -> list[str]:
    found = [m.group(0) for m in INLINE_SCRIPT.finditer(text) if not DATA_BLOCK.search(m.group(0))]
    found += [f"{m.group(1)}= attribute" for m in EVENT_HANDLER.finditer(text)]
    found += ["javascript: URL" for _ in JAVASCRIPT_URL.finditer(text)]
    return found


def test_no_template_has_inline_script():
    problems = {
        str(path.relative_to(ROOT)): found
        for path in templates()
        if (found := violations(path.read_text()))
    }
    assert problems == {}, "move these into static .js files"


def test_the_scanner_finds_what_the_policy_blocks():
    assert violations("<script>alert(1)</script>") == ["<script>"]
    assert violations('<select name="m" onchange="this.form.submit()">') == ["onchange= attribute"]
    assert violations('<a href="javascript:void(0)">') == ["javascript: URL"]
    assert violations('<script src="/static/app.js" defer></script>') == []
    assert violations('<script type="application/json" id="data">{}</script>') == []
    assert violations('<tr data-online="1" class="x">') == []
