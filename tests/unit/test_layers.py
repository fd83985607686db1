"""The package's layers, read from its source: every import (module-level or inside a
function) flows one way, and no two modules import each other through any chain.

    cli -> training -> predict -> checkpoint, decoding -> models, data, metrics, seed, recipes -> config, errors

The package root is the one exception: its `load` imports `rnn_cli.api` inside the
function, so that `import rnn_cli` stays light (see FACADE).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rnn_cli"

# Lower ranks are more basic; a module may import modules of its own rank or below.
RANKS = [
    ("rnn_cli.cli", 5), ("rnn_cli.__main__", 5),
    ("rnn_cli.training", 4), ("rnn_cli.api", 4),
    ("rnn_cli.predict", 3),
    ("rnn_cli.checkpoint", 2), ("rnn_cli.decoding", 2),
    ("rnn_cli.models", 1), ("rnn_cli.data", 1), ("rnn_cli.metrics", 1), ("rnn_cli.seed", 1), ("rnn_cli.recipes", 1),
    ("rnn_cli.config", 0), ("rnn_cli.errors", 0), ("rnn_cli.batches", 0), ("rnn_cli", 0),
]
# The package root's `load` is the public face of `rnn_cli.api`: it may import it (lazily).
FACADE = ("rnn_cli", "rnn_cli.api")
# Side by side but apart: the model zoo knows nothing of files, and readers nothing of models.
APART = [("rnn_cli.models", "rnn_cli.data"), ("rnn_cli.data", "rnn_cli.models")]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rank(module: str) -> int:
    for prefix, r in RANKS:
        if module == prefix or module.startswith(prefix + "."):
            return r
    raise AssertionError(f"{module} has no layer: add it to RANKS")


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def imports() -> dict[str, set[str]]:
    """module -> the rnn_cli modules it imports (every import statement in the file)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for a in node.names:
                    # `from rnn_cli import checkpoint` imports a module; `from x import f` a name of x.
                    targets.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
        graph[name] = {t for t in targets if within(t, "rnn_cli") and t != name}
    return graph


def test_every_module_has_a_layer_and_imports_flow_down():
    upward = []
    for module, targets in sorted(imports().items()):
        for target in sorted(targets):
            if (module, target) == FACADE:
                continue
            if rank(target) > rank(module):
                upward.append(f"{module} (layer {rank(module)}) imports {target} (layer {rank(target)})")
            for a, b in APART:
                if within(module, a) and within(target, b):
                    upward.append(f"{module} imports {target}: {a} must not depend on {b}")
    assert not upward, "\n".join(upward)


def test_no_import_cycles():
    graph = imports()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == "rnn_cli" or nxt not in graph:
                continue  # the package root holds the version and the lazy facade (FACADE)
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_function_level_imports(tmp_path):
    # The graph must include imports made inside functions (the lazy ones of cli/).
    assert "rnn_cli.training.tagger" in imports()["rnn_cli.cli.train_tagger"]
