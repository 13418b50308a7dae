"""Print the counts of issue 17's review for the code as it is, one per line: "name: value".

    .venv/bin/python scripts/house_counts.py [--where]

Run it before and after a change and a note can give both columns. ``--where`` also lists, under
each count, where each counted thing is (file:line).

What is read: the Python files under kitmanager/, without kitmanager/migrations/ (the migration
history, written once and never tidied). Enums are read from kitmanager/, printouts/ and
firmware_tools/. How each line is counted (ast: from the parsed code; text: a regular
expression over the source):

- commits / rollbacks in views and API modules (ast): calls of a method named ``commit`` or
  ``rollback`` (``db.session.commit()``, ...) in view modules: every ``views.py`` and
  ``*_views.py``, every module of kitmanager/api/, and every route module.
- route modules (ast): modules with a route, i.e. a decorator ``X.route/get/post/put/patch/
  delete("/...")`` or a call ``add_url_rule("/...")``.
- raw request.form reads (ast): each ``request.form`` in the code (``request.form.get("x")``,
  ``request.form["x"]``, ``"x" in request.form``, ...).
- [:N] slices with a literal N (ast): subscripts ``[:N]``, N a whole-number literal, with no
  start and no step (``name[:120]``; not ``name[:-1]``, not ``name[:LIMIT]``).
- route strings typing /workshops/<slug> (ast, then text): the paths of those routes that
  contain ``/workshops/<slug>`` (with or without a converter).
- imports inside functions (ast): ``import`` / ``from ... import`` statements with a function
  (``def``, ``async def``, ``lambda``) around them; and those of them that import kitmanager's
  own modules (the ones that dodge import cycles), on a line of their own.
- imports of another feature's views (ast): a feature is the first name under kitmanager/ (a
  folder such as ``auth``, or a module such as ``security``); counted: import statements in one
  feature of ``kitmanager.<another feature>.views`` or of a name from it, in any form.
- modules importing another module's private names (ast): modules with
  ``from M import _name`` (one leading underscore).
- enum label tables (ast): dict literals of at least two entries whose keys are all members of
  the project's enums (written ``Enum.MEMBER``, ``Enum.MEMBER.value`` or as the member's value,
  ``"trainer"``) and whose values are all gettext calls (``_``, ``_l``, ``gettext``,
  ``lazy_gettext``, ...), outside the enum classes themselves (where labels belong); an enum is
  a class deriving from a class whose name ends in ``Enum``.
- deleted_at.is_(None) (text): occurrences of ``deleted_at.is_(None)``.
- actor.name[: cuts (text): occurrences of ``actor.name[:``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["count_house", "main"]

REPO = Path(__file__).resolve().parents[1]
APP = "kitmanager"
SKIPPED = (REPO / APP / "migrations",)
ENUM_PACKAGES = (APP, "printouts", "firmware_tools")

ROUTE_METHODS = frozenset({"route", "get", "post", "put", "patch", "delete"})
GETTEXT = frozenset(
    {"_", "_l", "gettext", "lazy_gettext", "pgettext", "lazy_pgettext", "ngettext", "lazy_ngettext"}
)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
WORKSHOP_SLUG = re.compile(r"/workshops/<(?:\w+:)?slug>")
TEXT_FACTS = {
    "deleted_at.is_(None)": re.compile(r"deleted_at\.is_\(None\)"),
    "actor.name[: cuts": re.compile(r"actor\.name\[:"),
}


@dataclass
class Module:
    """One parsed source file, with each node's parent."""

    path: Path
    source: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Module:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
        parents = {kid: node for node in ast.walk(tree) for kid in ast.iter_child_nodes(node)}
        return cls(path, source, tree, parents)

    @property
    def name(self) -> str:
        """The dotted module name: ``kitmanager.auth.views``, ``kitmanager.auth``."""
        parts = self.path.relative_to(REPO).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    @property
    def feature(self) -> str:
        """The first name under kitmanager/: ``auth`` for kitmanager/auth/views.py."""
        return self.path.relative_to(REPO / APP).with_suffix("").parts[0]

    def where(self, node: ast.AST | None = None, offset: int | None = None) -> str:
        line = node.lineno if node is not None else self.source.count("\n", 0, offset) + 1
        return f"{self.path.relative_to(REPO)}:{line}"

    def inside(self, node: ast.AST, kinds: tuple[type[ast.AST], ...]) -> bool:
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, kinds):
                return True
            parent = self.parents.get(parent)
        return False

    def imported_from(self, node: ast.ImportFrom) -> str:
        """The absolute module a ``from ... import`` reads, relative ones resolved."""
        if not node.level:
            return node.module or ""
        package = self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        return f"{base}.{node.module}" if node.module else base


def _python_files(package: str) -> Iterator[Path]:
    for path in sorted((REPO / package).rglob("*.py")):
        if not any(skipped in path.parents for skipped in SKIPPED):
            yield path


def _dotted(node: ast.AST) -> str:
    return ast.unparse(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""


def _routes(module: Module) -> list[tuple[ast.AST, str]]:
    """(node, path) of every route the module declares."""
    found = []
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        is_decorator = isinstance(module.parents.get(node), FUNCTIONS) and node in getattr(
            module.parents.get(node), "decorator_list", ()
        )
        if not ((method in ROUTE_METHODS and is_decorator) or method == "add_url_rule"):
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and str(first.value).startswith("/"):
            found.append((node, first.value))
    return found


def _enums() -> tuple[dict[str, set[str]], set[str]]:
    """The project's enums: {class name: member names}, and every member's value as text."""
    members: dict[str, set[str]] = {}
    values: set[str] = set()
    for package in ENUM_PACKAGES:
        for path in _python_files(package):
            for node in ast.walk(Module.read(path).tree):
                if not _is_enum_class(node):
                    continue
                for statement in node.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name)
                        and not statement.targets[0].id.startswith("_")
                        and isinstance(statement.value, ast.Constant)
                    ):
                        members.setdefault(node.name, set()).add(statement.targets[0].id)
                        values.add(str(statement.value.value))
    return members, values


def _is_enum_member(key: ast.AST | None, members: dict[str, set[str]], values: set[str]) -> bool:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value in values
    parts = _dotted(key).split(".") if key is not None else []
    if parts and parts[-1] == "value":
        parts = parts[:-1]
    return len(parts) >= 2 and parts[-1] in members.get(parts[-2], ())


def _is_enum_class(node: ast.AST) -> bool:
    return isinstance(node, ast.ClassDef) and any(
        _dotted(base).endswith("Enum") for base in node.bases
    )


def _in_enum_class(module: Module, node: ast.AST) -> bool:
    parent = module.parents.get(node)
    while parent is not None and not _is_enum_class(parent):
        parent = module.parents.get(parent)
    return parent is not None


def _is_gettext(value: ast.AST) -> bool:
    return isinstance(value, ast.Call) and _dotted(value.func).rpartition(".")[2] in GETTEXT


def _imports_own_module(module: Module, node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        names = [module.imported_from(node)]
    else:
        names = [alias.name for alias in node.names]
    return any(name == APP or name.startswith(f"{APP}.") for name in names)


def _views_imported(module: Module, node: ast.AST) -> list[str]:
    """The features whose views ``node`` imports."""
    pattern = re.compile(rf"{APP}\.(\w+)\.views(?:\.|$)")
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = module.imported_from(node)
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    else:
        return []
    return sorted({m.group(1) for name in names if (m := pattern.match(name))})


def count_house(where: dict[str, list[str]] | None = None) -> dict[str, int]:
    """The counts, by name (in the order printed); ``where`` gets, by name, where each is."""
    found: dict[str, list[str]] = {
        "commits in views and API modules": [],
        "rollbacks in views and API modules": [],
        "route modules": [],
        "raw request.form reads": [],
        "[:N] slices with a literal N": [],
        "route strings typing /workshops/<slug>": [],
        "imports inside functions": [],
        "imports of kitmanager modules inside functions": [],
        "imports of another feature's views": [],
        "modules importing another module's private names": [],
        "enum label tables": [],
        **{name: [] for name in TEXT_FACTS},
    }
    members, values = _enums()
    modules_importing_private: dict[str, list[str]] = {}
    for path in _python_files(APP):
        module = Module.read(path)
        routes = _routes(module)
        if routes:
            found["route modules"].append(module.where(routes[0][0]))
        for node, route in routes:
            if WORKSHOP_SLUG.search(route):
                found["route strings typing /workshops/<slug>"].append(
                    f"{module.where(node)} {route}"
                )
        is_view = (
            bool(routes)
            or path.name == "views.py"
            or path.name.endswith("_views.py")
            or path.parent == REPO / APP / "api"
        )
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and is_view:
                if node.func.attr == "commit":
                    found["commits in views and API modules"].append(module.where(node))
                elif node.func.attr == "rollback":
                    found["rollbacks in views and API modules"].append(module.where(node))
            elif isinstance(node, ast.Attribute) and node.attr == "form":
                if _dotted(node.value).rpartition(".")[2] == "request":
                    found["raw request.form reads"].append(module.where(node))
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
                bound = node.slice.upper
                if (
                    node.slice.lower is None
                    and node.slice.step is None
                    and isinstance(bound, ast.Constant)
                    and type(bound.value) is int
                ):
                    found["[:N] slices with a literal N"].append(
                        f"{module.where(node)} {ast.unparse(node)}"
                    )
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if module.inside(node, FUNCTIONS):
                    found["imports inside functions"].append(module.where(node))
                    if _imports_own_module(module, node):
                        found["imports of kitmanager modules inside functions"].append(
                            module.where(node)
                        )
                for feature in _views_imported(module, node):
                    if feature != module.feature:
                        found["imports of another feature's views"].append(
                            f"{module.where(node)} {module.feature} imports {feature}.views"
                        )
                if isinstance(node, ast.ImportFrom):
                    private = [
                        a.name
                        for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")
                    ]
                    if private:
                        modules_importing_private.setdefault(module.name, []).append(
                            f"{module.where(node)} {', '.join(private)} from "
                            f"{module.imported_from(node)}"
                        )
            elif (
                isinstance(node, ast.Dict)
                and len(node.keys) >= 2
                and all(_is_enum_member(k, members, values) for k in node.keys)
                and all(_is_gettext(v) for v in node.values)
                and not _in_enum_class(module, node)
            ):
                found["enum label tables"].append(module.where(node))
        for name, pattern in TEXT_FACTS.items():
            found[name] += [module.where(offset=m.start()) for m in pattern.finditer(module.source)]
    for name, places in sorted(modules_importing_private.items()):
        found["modules importing another module's private names"].append(f"{name}: {places}")
    if where is not None:
        where.update(found)
    return {name: len(places) for name, places in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--where", action="store_true", help="also list where each thing is")
    args = parser.parse_args(argv)
    where: dict[str, list[str]] = {}
    for name, value in count_house(where).items():
        print(f"{name}: {value}")
        if args.where:
            for place in where[name]:
                print(f"    {place}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
