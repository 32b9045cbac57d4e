"""The console builder's form: a rule tree written as flat form fields, and back.

Each node of the tree is a set of fields named ``r:<path>:<attr>``, the path being the
node's position (``0`` the root group, ``0.2`` its third item, ``0.2.0`` the first item of
that one). Groups carry ``group`` (all/any); conditions carry field, op, value, value2 (the
upper bound of between) and the optional within_days, min_times and channel. Structural
edits (add a condition or a group, remove a node) arrive as ``action`` and are applied to
the parsed tree; the page is then drawn again from the tree, paths renumbered.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.functional import Promise

from omnicrm.catalog.models import Category
from omnicrm.segments import fields as F
from omnicrm.segments.fields import FIELDS, GROUP_LABELS, OPERATOR_LABELS
from omnicrm.segments.rules import DAY_OPS, LIST_OPS, NO_VALUE_OPS

PREFIX = "r:"
DEFAULT_CONDITION = {"field": "country", "op": "eq", "value": ""}
PARAMS = ("within_days", "min_times", "channel")
MAX_NODES = 200


def _path_key(path: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in path.split("."))
    except ValueError:
        return None


def tree_from_post(data: QueryDict) -> dict[str, Any]:
    """The raw (unvalidated) tree the builder's fields describe."""
    nodes: dict[tuple[int, ...], dict[str, str]] = {}
    for key, value in data.items():
        if not key.startswith(PREFIX) or key.count(":") != 2:
            continue
        _prefix, raw_path, attr = key.split(":")
        path = _path_key(raw_path)
        if path is None or len(nodes) > MAX_NODES:
            continue
        nodes.setdefault(path, {})[attr] = str(value)

    def build(path: tuple[int, ...]) -> dict[str, Any]:
        attrs = nodes.get(path, {})
        mode = attrs.get("group")
        if mode in ("all", "any"):
            children = sorted(
                p for p in nodes if len(p) == len(path) + 1 and p[: len(path)] == path
            )
            return {mode: [build(child) for child in children]}
        return _condition_from_fields(attrs)

    if (0,) not in nodes:
        return {"all": []}
    root = build((0,))
    return root if "field" not in root else {"all": [root]}


def _condition_from_fields(attrs: dict[str, str]) -> dict[str, Any]:
    name = attrs.get("field", "")
    spec = FIELDS.get(name)
    op = attrs.get("op", "")
    if spec is not None and op not in spec.ops:
        # The field changed under the operator: start from the field's first operator.
        op = spec.ops[0]
    node: dict[str, Any] = {"field": name, "op": op}
    value = attrs.get("value", "").strip()
    if op == "between":
        node["value"] = [value, attrs.get("value2", "").strip()]
    elif op not in NO_VALUE_OPS:
        node["value"] = value
    for param in PARAMS:
        raw = attrs.get(param, "").strip()
        if raw and spec is not None and param in spec.params:
            node[param] = raw
    return node


def _split(path: str) -> list[int]:
    key = _path_key(path)
    return list(key[1:]) if key else []


def _locate(tree: dict[str, Any], steps: list[int]) -> tuple[list[Any] | None, int]:
    """The list holding the node at ``steps`` (below the root) and its index."""
    node = tree
    for depth, step in enumerate(steps):
        items = node.get("all", node.get("any"))
        if not isinstance(items, list) or not 0 <= step < len(items):
            return None, -1
        if depth == len(steps) - 1:
            return items, step
        node = items[step]
    return None, -1


def _group_at(tree: dict[str, Any], steps: list[int]) -> list[Any] | None:
    if not steps:
        return tree.get("all", tree.get("any"))
    items, index = _locate(tree, steps)
    if items is None:
        return None
    node = items[index]
    group = node.get("all", node.get("any")) if isinstance(node, dict) else None
    return group if isinstance(group, list) else None


def tree_apply(tree: dict[str, Any], action: str) -> dict[str, Any]:
    """Apply ``add-condition:<path>``, ``add-group:<path>`` or ``remove:<path>``."""
    verb, _sep, path = action.partition(":")
    steps = _split(path)
    if verb in ("add-condition", "add-group"):
        group = _group_at(tree, steps)
        if group is not None:
            child = dict(DEFAULT_CONDITION)
            group.append(child if verb == "add-condition" else {"any": [child]})
    elif verb == "remove" and steps:
        items, index = _locate(tree, steps)
        if items is not None:
            items.pop(index)
    return tree


# --- what the template draws --------------------------------------------------------------


@dataclass
class NodeView:
    path: str
    rules_path: str
    is_group: bool
    mode: str = "all"
    children: list[NodeView] = dataclasses.field(default_factory=list)
    field: str = ""
    op: str = ""
    value: str = ""
    value2: str = ""
    ops: list[tuple[str, Promise]] = dataclasses.field(default_factory=list)
    widget: str = "text"
    choices: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    params: tuple[str, ...] = ()
    within_days: str = ""
    min_times: str = ""
    channel: str = ""
    is_root: bool = False
    error: str = ""


def field_options() -> list[tuple[Promise, list[tuple[str, Promise]]]]:
    """Fields grouped for the <optgroup>s of the field menu."""
    groups: dict[str, list[tuple[str, Promise]]] = {}
    for spec in FIELDS.values():
        groups.setdefault(spec.source, []).append((spec.name, spec.label))
    return [(GROUP_LABELS[source], items) for source, items in groups.items()]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _widget(spec: F.FieldSpec | None, op: str) -> str:
    if spec is None or op in NO_VALUE_OPS:
        return "none"
    if op in DAY_OPS:
        return "days"
    if op in LIST_OPS:
        return "list"
    if spec.type == F.DATE:
        return "date"
    if spec.name == "bought_category":
        return "category"
    if spec.type in (F.CHOICE, F.CONSENT):
        return "select"
    if spec.type in (F.INTEGER, F.NUMBER, F.MONEY):
        return "number"
    return "text"


def _ops(spec: F.FieldSpec | None) -> list[tuple[str, Promise]]:
    if spec is None:
        return []
    labels = F.BOUGHT_LABELS if spec.type == F.BOUGHT else OPERATOR_LABELS
    return [(op, labels[op]) for op in spec.ops]


def tree_view(
    tree: dict[str, Any], *, error_path: str = "", error: str = "", categories: list | None = None
) -> NodeView:
    """The tree as nested NodeViews; the node named by ``error_path`` carries ``error``."""
    category_choices = [
        (slug, name)
        for slug, name in (
            categories
            if categories is not None
            else Category.objects.order_by("name").values_list("slug", "name")
        )
    ]

    def view(node: Any, steps: list[int], rules_path: str) -> NodeView:
        path = ".".join(str(s) for s in [0, *steps])
        if isinstance(node, dict) and ("all" in node or "any" in node):
            mode = "all" if "all" in node else "any"
            items = node[mode] if isinstance(node[mode], list) else []
            result = NodeView(path=path, rules_path=rules_path, is_group=True, mode=mode)
            result.children = [
                view(item, [*steps, i], f"{rules_path}.{mode}[{i}]") for i, item in enumerate(items)
            ]
        else:
            node = node if isinstance(node, dict) else {}
            spec = FIELDS.get(node.get("field", ""))
            op = node.get("op", "")
            value = node.get("value")
            result = NodeView(
                path=path,
                rules_path=rules_path,
                is_group=False,
                field=node.get("field", ""),
                op=op,
                ops=_ops(spec),
                widget=_widget(spec, op),
                params=spec.params if spec else (),
                within_days=_text(node.get("within_days")),
                min_times=_text(node.get("min_times")),
                channel=_text(node.get("channel")),
            )
            if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
                result.value, result.value2 = _text(value[0]), _text(value[1])
            else:
                result.value = _text(value)
            if result.widget == "select" and spec is not None:
                result.choices = [(c, c) for c in spec.choices]
            elif result.widget == "category":
                result.choices = category_choices
        if error_path and rules_path == error_path:
            result.error = error
        return result

    root = view(tree, [], "rules")
    root.is_root = True
    if error_path and not root.error and not _has_error(root):
        root.error = error
    return root


def _has_error(node: NodeView) -> bool:
    return bool(node.error) or any(_has_error(child) for child in node.children)
