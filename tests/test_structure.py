"""The house's shape: imports go one way (no circle among jlan_tf's modules, counting every
import statement, lazy ones and ``TYPE_CHECKING`` ones too), and no script or test edits
``sys.path`` to find code."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the jlan_tf modules it imports (``from a.b import c`` counts a.b.c when c is a module)."""
    paths = [p for p in (ROOT / "jlan_tf").rglob("*.py") if not p.name.endswith("_test.py")]
    modules = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")
                       and not (t == "jlan_tf" or t.endswith("__init__"))}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "jlan_tf.data.prepared" in graph and "jlan_tf.data.documents" in graph["jlan_tf.data.prepared"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_script_or_test_edits_sys_path():
    offenders = [str(p.relative_to(ROOT)) for folder in ("experiments", "tests", "jlan_tf") for p in (ROOT / folder).rglob("*.py")
                 if p.name != "test_structure.py" and "sys.path" in p.read_text()]
    assert not offenders, offenders


def test_the_costs_page_is_what_the_scale_results_give():
    from scripts import load

    assert load("costs_table").main(["--check"]) == 0
