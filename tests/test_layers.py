"""The package's layers, checked by walking every import (function-level ones included):

- `core/` imports nothing of sftdebug above it;
- the shared layers (SHARED) import no diagnostic;
- a diagnostic imports another diagnostic only through its public package (`sftdebug.hallucination`), never its
  modules (`sftdebug.hallucination.phases`);
- nothing below `lab/` imports `lab/`;
- only the command modules (diagnostics.py's `cli` entries) use the CLI plumbing (`sftdebug.cliargs`);
- sftdebug/diagnostics.py declares every command once, and every run kind's report module renders it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import sftdebug
from sftdebug.diagnostics import DIAGNOSTICS, KINDS

PKG = Path(sftdebug.__file__).parent
DIAGNOSTIC_PACKAGES = {"hallucination", "latency", "overfit", "generate", "data", "risk", "parity", "compare"}
SHARED = {"core", "engines", "facts", "report", "sftdata", "training"}  # the layers every diagnostic may use
COMMANDS = {d.cli for d in DIAGNOSTICS}  # the modules that parse flags and print


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("sftdebug.")}


def _crossings() -> set[tuple[str, str]]:
    bad = set()
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if len(rel.parts) < 2:
            continue  # the top level (cli.py, cliargs.py, diagnostics.py) sits above everything
        layer = rel.parts[0]
        name = ".".join(("sftdebug", *rel.with_suffix("").parts))
        for module in _imports(path):
            target = module.split(".")[1]
            if target == "cliargs" and name not in COMMANDS:
                bad.add((str(rel), module))  # flags and exit codes belong to the commands
            if target == layer or target == "diagnostics":
                continue
            if layer == "core":
                bad.add((str(rel), module))  # core is the bottom
            elif target == "lab" and layer != "lab":
                bad.add((str(rel), module))  # lab sits on top
            elif layer in DIAGNOSTIC_PACKAGES and target in DIAGNOSTIC_PACKAGES and module != f"sftdebug.{target}":
                bad.add((str(rel), module))  # another diagnostic's insides
            elif layer in SHARED and target not in SHARED:
                bad.add((str(rel), module))  # a shared layer reaching up into a diagnostic
    return bad


def test_layers_are_respected() -> None:
    crossings = _crossings()
    assert not crossings, f"imports across layers: {sorted(crossings)}"


def test_every_command_is_declared_once_and_every_kind_renders() -> None:
    commands = [d.command for d in DIAGNOSTICS]
    assert len(commands) == len(set(commands))
    for kind in KINDS.values():
        module = importlib.import_module(kind.report)
        assert callable(module.render) and callable(module.headline), kind.report
    from sftdebug.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(commands)  # type: ignore[union-attr]
