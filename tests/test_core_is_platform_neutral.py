"""The core (``bot/``) and storage never load a platform SDK or an adapter.

Why both checks: the subprocess proves what actually ends up imported (including indirect
imports through third-party code); the static scan names the exact file and line that broke it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("discord", "slack_bolt", "slack_sdk", "adapters")

_PROBE = """
import json, pkgutil, importlib, sys
import bot, storage
loaded = []
for package in (bot, storage):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.startswith("storage.migrations"):
            continue  # alembic scripts, loaded by alembic itself
        importlib.import_module(info.name)
        loaded.append(info.name)
bad = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {forbidden}
)
print(json.dumps({{"loaded": loaded, "bad": bad}}))
"""


def test_importing_every_core_module_loads_no_platform_sdk_or_adapter() -> None:
    probe = _PROBE.format(forbidden=repr(set(FORBIDDEN)))
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "bot.core" in report["loaded"] and "bot.intros.commands" in report["loaded"]
    assert "storage.store" in report["loaded"]
    assert report["bad"] == []


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_file_in_bot_or_storage_imports_a_platform_sdk_or_adapter() -> None:
    offenders = []
    files = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "storage").rglob("*.py"))
    assert len(files) > 20
    for path in files:
        for line, module in _imports(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_the_static_check_would_catch_an_sdk_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import discord\nfrom slack_sdk.web import WebClient\n"
        "from adapters.console import session\nimport importlib\n"
        "importlib.import_module('slack_bolt')\n",
        encoding="utf-8",
    )
    modules = [m.split(".")[0] for _, m in _imports(sample)]
    assert [m for m in modules if m in FORBIDDEN] == [
        "discord", "slack_sdk", "adapters", "slack_bolt"
    ]
