"""``python bench/code_shape.py [REV ...]``: the shape of the code at each git revision (default:
the working tree) — lines per module of ``daemon/`` and ``plugins/`` and the largest functions.

Why: issue 10's closing note asks for line counts per module and the largest functions before
and after the SDK/inbox split; reading them off ``git show`` by hand drifts. Revisions are read
with ``git show REV:path`` (nothing is checked out), functions are measured on the syntax tree
(``end_lineno - lineno + 1``, decorators and docstrings included, nested functions counted in
their parent and on their own).
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPS = ("daemon", "plugins")


def sources(rev: str | None) -> dict[str, str]:
    if rev is None:
        return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
                for top in TOPS for p in sorted((REPO / top).rglob("*.py")) if "__pycache__" not in p.parts}
    names = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", rev, "--", *TOPS],
                           capture_output=True, text=True, check=True).stdout.split()
    return {n: subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{n}"], capture_output=True, text=True,
                              check=True).stdout for n in names if n.endswith(".py")}


def functions(path: str, text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((child.end_lineno - child.lineno + 1, f"{path}:{child.lineno} {name}"))
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(text), "")
    return out


def report(rev: str | None, top: int) -> None:
    src = sources(rev)
    label = rev or "working tree"
    lines = {p: t.count("\n") for p, t in src.items()}
    funcs = sorted((f for p, t in src.items() for f in functions(p, t)), reverse=True)
    over = {n: sum(1 for size, _ in funcs if size > n) for n in (50, 80, 120)}
    print(f"## {label}: {len(src)} modules, {sum(lines.values())} lines, {len(funcs)} functions; "
          f"functions over 50/80/120 lines: {over[50]}/{over[80]}/{over[120]}")
    print("largest modules:")
    for p, n in sorted(lines.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {n:6d}  {p}")
    print("largest functions:")
    for size, where in funcs[:top]:
        print(f"  {size:6d}  {where}")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python bench/code_shape.py")
    ap.add_argument("revs", nargs="*", help="git revisions; none: the working tree")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    for rev in a.revs or [None]:
        report(rev, a.top)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
