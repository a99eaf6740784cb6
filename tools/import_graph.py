"""Import graph of databuild's own packages, imports inside functions included.

Why: import-linter (grimp) sees every import statement, but the cycles that hid in this tree
were made of imports placed inside functions to dodge import-time errors. This script lists
them so `make lint` (and a unit test) can fail on any cycle, wherever the import sits.

    python tools/import_graph.py            # prints cycles (strongly connected components)
    python tools/import_graph.py --edges    # also prints every edge, marking function-level ones

The layer contracts themselves are import-linter's (``.importlinter``, ``lint-imports``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("databuild_assets", "resources", "sensors")


def module_files(root: Path) -> dict[str, Path]:
    """Module name -> file for every .py under the packages."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that `name` is or lies in (a.b.c -> a.b if c is a symbol)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> dict[str, bool]:
    """Imported own modules -> True when only imported inside a function or class body."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: dict[str, bool] = {}

    def add(target: str | None, nested: bool) -> None:
        if target and target != module:
            found[target] = found.get(target, True) and nested

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(_known(alias.name, modules), nested)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, is_pkg, child)
                for alias in child.names:
                    add(_known(f"{base}.{alias.name}", modules), nested)
            visit(child, inner)

    visit(tree, False)
    return found


def graph(root: Path) -> dict[str, dict[str, bool]]:
    modules = module_files(root)
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def cycles(edges: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sorted(out)


def private_dagster_imports(root: Path) -> dict[str, set[str]]:
    """Own module -> the Dagster-internal modules (``dagster._...``) it imports, anywhere."""
    out: dict[str, set[str]] = {}
    for module, path in module_files(root).items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for name in names:
                if name.startswith("dagster._"):
                    out.setdefault(module, set()).add(name)
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    edges = graph(root)
    if "--edges" in argv:
        for src in sorted(edges):
            for dst, nested in sorted(edges[src].items()):
                print(f"{src} -> {dst}{'  (in function)' if nested else ''}")
    found = cycles(edges)
    for comp in found:
        print(f"cycle over {len(comp)} modules:")
        for m in comp:
            inside = [f"{d}{'*' if n else ''}" for d, n in sorted(edges[m].items()) if d in comp]
            print(f"  {m} -> {', '.join(inside)}")
    print(f"{len(found)} cycle(s); * = import inside a function")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
