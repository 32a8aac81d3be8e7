"""Mutants of one module, made on its syntax tree: each is the source with one small change of the
kind a slip of the keyboard or a wrong boundary makes (``<`` for ``<=``, ``and`` for ``or``, an
off-by-one constant, a dropped ``not``, a skipped call, ``return None``).

Docstrings, log calls and the text of messages are left alone: a changed message is no change
of behaviour a test should be asked to notice.
"""
from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

SWAP_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
SWAP_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
            ast.Mod: ast.FloorDiv, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.Pow: ast.Mult,
            ast.LShift: ast.RShift, ast.RShift: ast.LShift}
SWAP_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
LOGGERS = {"log", "logger", "logging", "_log"}


@dataclass
class Mutant:
    index: int
    line: int
    what: str
    source: str


def _is_docstring(node: ast.AST, parent: ast.AST | None) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _is_log_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    f = node.value.func
    return isinstance(f, ast.Attribute) and (
        (isinstance(f.value, ast.Name) and f.value.id in LOGGERS)
        or (isinstance(f.value, ast.Attribute) and f.value.attr in LOGGERS))


def _sites(tree: ast.AST):
    """Every (node id path, description) a mutation can change, in a stable order."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _is_docstring(node, None) or _is_log_call(node):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip.update(id(n) for n in ast.walk(node))  # export lists: only `import *` reads them
        if isinstance(node, ast.JoinedStr):  # f-string text
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, (ast.AnnAssign, ast.arg)) and getattr(node, "annotation", None) is not None:
            skip.update(id(n) for n in ast.walk(node.annotation))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            skip.update(id(n) for n in ast.walk(node.returns))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "FileRejected", "NumberError", "ValueError", "TypeError", "RuntimeError", "KeyError"):
            # the message arguments of errors: text, not behaviour (the reason code, the first
            # argument of FileRejected, stays mutable)
            for a in node.args[1:]:
                skip.update(id(n) for n in ast.walk(a))
            for kw in node.keywords:
                if kw.arg in ("fix",):
                    skip.update(id(n) for n in ast.walk(kw.value))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in SWAP_CMP:
                    out.append((node, ("cmp", k), line, f"{type(op).__name__} -> {SWAP_CMP[type(op)].__name__}"))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAP_BIN:
            if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                continue  # "%s" % x formatting
            out.append((node, ("bin",), line, f"{type(node.op).__name__} -> {SWAP_BIN[type(node.op)].__name__}"))
        elif isinstance(node, ast.AugAssign) and type(node.op) in SWAP_BIN:
            out.append((node, ("aug",), line, f"{type(node.op).__name__}= -> {SWAP_BIN[type(node.op)].__name__}="))
        elif isinstance(node, ast.BoolOp):
            out.append((node, ("bool",), line, f"{type(node.op).__name__} -> {SWAP_BOOL[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, ("not",), line, "drop not"))
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                out.append((node, ("const",), line, f"{v} -> {not v}"))
            elif isinstance(v, int):
                out.append((node, ("const",), line, f"{v} -> {v + 1}"))
            elif isinstance(v, float):
                out.append((node, ("const",), line, f"{v} -> {v + 1}"))
            elif isinstance(v, str) and 0 < len(v) <= 3:
                out.append((node, ("const",), line, f"{v!r} -> {v + 'X'!r}"))
        elif isinstance(node, (ast.If, ast.While)) and not isinstance(node.test, (ast.Compare, ast.UnaryOp)):
            out.append((node, ("negate",), line, "negate condition"))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append((node, ("return_none",), line, "return None"))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            out.append((node, ("drop_call",), line, f"skip call {ast.unparse(node.value.func)[:40]}"))
        elif isinstance(node, ast.Break):
            out.append((node, ("break",), line, "break -> continue"))
    return out


def _apply(node: ast.AST, how: tuple) -> ast.AST:
    kind = how[0]
    if kind == "cmp":
        node.ops[how[1]] = SWAP_CMP[type(node.ops[how[1]])]()
    elif kind in ("bin", "aug"):
        node.op = SWAP_BIN[type(node.op)]()
    elif kind == "bool":
        node.op = SWAP_BOOL[type(node.op)]()
    elif kind == "not":
        return node.operand
    elif kind == "const":
        v = node.value
        node.value = (not v) if isinstance(v, bool) else (v + 1 if isinstance(v, (int, float)) else v + "X")
    elif kind == "negate":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "return_none":
        node.value = ast.Constant(value=None)
    elif kind == "drop_call":
        return ast.Pass()
    elif kind == "break":
        return ast.Continue()
    return node


def _replace_in_parent(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return
    raise LookupError("mutation site not found")


def mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    position = {id(n): k for k, n in enumerate(ast.walk(tree))}  # ast.walk's order is the same for every parse
    sites = sorted(_sites(tree), key=lambda s: (position[id(s[0])], s[1]))
    out = []
    for i, (node, how, line, what) in enumerate(sites):
        fresh = ast.parse(source)
        target = list(ast.walk(fresh))[position[id(node)]]
        new = _apply(target, how)
        if new is not target:
            _replace_in_parent(fresh, target, ast.copy_location(new, target))
        try:
            text = ast.unparse(ast.fix_missing_locations(fresh))
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError):
            continue
        out.append(Mutant(i, line, what, text))
    return out
