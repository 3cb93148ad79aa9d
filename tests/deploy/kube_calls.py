"""The Kubernetes API calls golive's probes can make, read from their source code.

Every probe reaches the API server through ``KubeClient`` (golive/checks/clients/
kubernetes.py, the one module that imports the ``kubernetes`` package), whose only
requests are ``objects`` (a LIST, in a namespace or across all of them) and ``get`` (a
GET of one object). Each call names a :class:`Resource` from that module's table. So
the calls are found in the probe modules' syntax trees: every ``kube.objects(...)`` and
``kube.get(...)``, with its first argument resolved to the Resource objects it can be:

- a module-level constant (``PODS``), or either branch of a conditional expression;
- an entry of a module-level dict of Resources (``_KINDS[kind]``), which may be any value;
- a loop or comprehension variable over such a dict's ``.items()`` / ``.values()``.

Anything else is reported as unresolvable, so a new way of naming a resource fails the
tests instead of slipping past them. :func:`client_usage_problems` checks the premise:
the client is reachable only under the name ``kube`` and has no other request method,
and no probe module touches the writer the Kubernetes client keeps for the leader Lease
(``KubeObject``, ``connect_object``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from golive.checks import families
from golive.checks.clients.kubernetes import KubeClient, Resource

Scope = Literal["namespaced", "cluster-wide"]
VERBS = {"objects": "list", "get": "get"}
CLIENT_NAME = "kube"
#: the Kubernetes client's writer: for golive/bot/ha/kubernetes.py, never for a probe.
WRITERS = {"KubeObject", "connect_object"}


@dataclass(frozen=True, order=True)
class ApiCall:
    """A request as RBAC sees it: verb, API group, resource and scope."""

    verb: str
    group: str
    resource: str
    scope: Scope
    #: Where in the code (not part of the identity).
    where: str = field(default="", compare=False)


class Unresolvable(Exception):
    pass


def probe_modules() -> list[ModuleType]:
    """The family modules that use the Kubernetes client."""
    modules = []
    for info in pkgutil.walk_packages(families.__path__, prefix=f"{families.__name__}."):
        module = importlib.import_module(info.name)
        if not info.ispkg and "clients.kubernetes import" in inspect.getsource(module):
            modules.append(module)
    return modules


def calls_in_code() -> set[ApiCall]:
    found: set[ApiCall] = set()
    for module in probe_modules():
        path = Path(inspect.getfile(module))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function, call in _client_calls(tree):
            where = f"{path.name}:{call.lineno}"
            if not call.args:
                raise Unresolvable(f"{where}: no resource argument")
            verb = VERBS[call.func.attr]  # type: ignore[attr-defined]
            all_namespaces = _all_namespaces(call, where)
            for resource in _resources(call.args[0], module, function, where):
                wide = not resource.namespaced or (verb == "list" and all_namespaces)
                scope: Scope = "cluster-wide" if wide else "namespaced"
                found.add(ApiCall(verb, resource.group, resource.plural, scope, where))
    return found


def client_usage_problems() -> list[str]:
    """Ways the client could be used that :func:`calls_in_code` would not see."""
    problems = []
    requests = {
        name
        for name, member in vars(KubeClient).items()
        if inspect.iscoroutinefunction(member) and not name.startswith("_")
    }
    if requests != set(VERBS):
        problems.append(f"KubeClient's request methods are {sorted(requests)}, not {sorted(VERBS)}")
    for module in probe_modules():
        path = Path(inspect.getfile(module))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.withitem) and _is_connect(node.context_expr):
                target = node.optional_vars
                if not (isinstance(target, ast.Name) and target.id == CLIENT_NAME):
                    problems.append(f"{where}: the connected client is not named {CLIENT_NAME!r}")
            if isinstance(node, ast.arg) and _names_client_type(node.annotation) and node.arg != CLIENT_NAME:
                problems.append(f"{where}: a KubeClient parameter named {node.arg!r}")
            if isinstance(node, ast.Attribute) and node.attr in {"_core", "_custom", "_api", "_call"}:
                problems.append(f"{where}: reaches into the client ({node.attr})")
            writer = _writer_named(node)
            if writer is not None:
                problems.append(f"{where}: a probe uses the Kubernetes client's writer {writer}")
    return problems


def _writer_named(node: ast.AST) -> str | None:
    """The Kubernetes client writer a node names (imported, or used by name or attribute)."""
    if isinstance(node, ast.alias):
        name = node.name
    elif isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    else:
        return None
    return name if name in WRITERS else None


def _client_calls(tree: ast.Module) -> list[tuple[ast.AST, ast.Call]]:
    """(enclosing function, call) for every ``kube.objects(...)`` / ``kube.get(...)``."""
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for function in functions:
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in VERBS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == CLIENT_NAME
            ):
                found.append((function, node))
    # A call inside a nested function is found from both functions: keep the innermost.
    innermost: dict[int, tuple[ast.AST, ast.Call]] = {}
    for function, call in found:
        innermost[id(call)] = (function, call)
    return list(innermost.values())


def _all_namespaces(call: ast.Call, where: str) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "all_namespaces":
            if not isinstance(keyword.value, ast.Constant) or not isinstance(keyword.value.value, bool):
                raise Unresolvable(f"{where}: all_namespaces is not a literal True/False")
            return keyword.value.value
    return False


def _resources(node: ast.expr, module: ModuleType, function: ast.AST, where: str) -> list[Resource]:
    if isinstance(node, ast.IfExp):
        return _resources(node.body, module, function, where) + _resources(
            node.orelse, module, function, where
        )
    if isinstance(node, ast.Name):
        value = getattr(module, node.id, None)
        if isinstance(value, Resource):
            return [value]
        return _loop_variable(node.id, module, function, where)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return _table_values(getattr(module, node.value.id, None), node.value.id, where)
    raise Unresolvable(f"{where}: cannot tell which resource {ast.unparse(node)!r} is")


def _loop_variable(name: str, module: ModuleType, function: ast.AST, where: str) -> list[Resource]:
    found: list[Resource] = []
    for node in ast.walk(function):
        if not isinstance(node, ast.comprehension | ast.For | ast.AsyncFor):
            continue
        iterated = node.iter
        if not (
            isinstance(iterated, ast.Call)
            and isinstance(iterated.func, ast.Attribute)
            and isinstance(iterated.func.value, ast.Name)
            and iterated.func.attr in ("items", "values")
        ):
            continue
        table = getattr(module, iterated.func.value.id, None)
        target = node.target
        if (iterated.func.attr == "values" and isinstance(target, ast.Name) and target.id == name) or (
            iterated.func.attr == "items"
            and isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and isinstance(target.elts[1], ast.Name)
            and target.elts[1].id == name
        ):
            found += _table_values(table, iterated.func.value.id, where)
    if not found:
        raise Unresolvable(f"{where}: cannot tell which resource {name!r} is")
    return found


def _table_values(table: Any, name: str, where: str) -> list[Resource]:
    if isinstance(table, dict) and table and all(isinstance(v, Resource) for v in table.values()):
        return list(table.values())
    raise Unresolvable(f"{where}: {name} is not a module-level dict of Resources")


def _is_connect(node: ast.expr) -> bool:
    """``kube_connect(...)`` / ``connect(...)`` as imported from the Kubernetes client."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("kube_connect", "connect")
    )


def _names_client_type(annotation: ast.expr | None) -> bool:
    return annotation is not None and "KubeClient" in ast.unparse(annotation)
