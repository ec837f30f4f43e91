"""Imports between vcfnet's modules run one way: no module imports, directly or through others, a
module that imports it back (function-level imports count too: a lazy import is still a loop), and the
package rules of docs/ARCHITECTURE.md hold."""
from __future__ import annotations

import ast
from pathlib import Path

import vcfnet

SRC = Path(vcfnet.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("vcfnet", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """vcfnet modules imported anywhere in ``path`` (``from vcfnet.x import y`` counts y when it is a module)."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(files)
    # importing vcfnet.a.b runs vcfnet.a/__init__ too, but that edge is the package's own business:
    # count only what each file names, minus its own package chain
    return {m: _imports(p, modules) - {m} - {m.rsplit(".", k)[0] for k in range(1, m.count("."))}
            for m, p in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_imports():
    graph = import_graph()
    assert "vcfnet.io.radiograph_data" in graph["vcfnet.io.image"]
    assert "vcfnet.service.jobs" in graph["vcfnet.service.api"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_vcfnet_modules():
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()) or [])


def test_package_rules():
    """stats computes and never draws or touches torch; the service never imports commands or ingest;
    training knows no web; io needs no network; the study never imports the generator; the report never
    imports the docs tooling (vcfnet.tools) or commands; dicom never imports commands, ingest, the
    reading app or the service; detect never imports the generator or any consumer of its answers, and its
    annotations, morphometry and levels need no torch."""
    graph = import_graph()
    banned = {
        "vcfnet.stats": ("torch", "matplotlib", "vcfnet.model", "vcfnet.report"),
        "vcfnet.service": ("vcfnet.commands", "vcfnet.study.ingest", "vcfnet.readers"),
        "vcfnet.model": ("vcfnet.service", "fastapi", "uvicorn", "vcfnet.commands"),
        "vcfnet.io": ("vcfnet.model", "vcfnet.service", "vcfnet.commands", "urllib.request", "requests", "httpx"),
        "vcfnet.study": ("vcfnet.synth", "vcfnet.model", "vcfnet.service", "vcfnet.commands"),
        "vcfnet.report": ("vcfnet.tools", "vcfnet.commands"),
        "vcfnet.readers": ("vcfnet.commands", "vcfnet.study.ingest", "vcfnet.tools"),
        # DICOM results, DICOMweb and the node predict through the Predictor; the service uses dicom
        "vcfnet.dicom": ("vcfnet.commands", "vcfnet.study.ingest", "vcfnet.readers", "vcfnet.service",
                         "vcfnet.tools", "vcfnet.synth"),
        # detection learns from files (vertebrae.json), never from the generator; it serves, never wires
        "vcfnet.detect": ("vcfnet.commands", "vcfnet.synth", "vcfnet.study.ingest", "vcfnet.service",
                          "vcfnet.readers", "vcfnet.report", "vcfnet.dicom", "vcfnet.tools", "fastapi"),
        # the annotations, morphometry and levels are plain numpy: the generator writes through coco
        "vcfnet.detect.coco": ("torch", "torchvision"),
        "vcfnet.detect.morphometry": ("torch", "torchvision"),
        "vcfnet.detect.levels": ("torch", "torchvision"),
    }
    broken = []
    for path in SRC.rglob("*.py"):
        module = _module_name(path)
        for package, names in banned.items():
            if module == package or module.startswith(package + "."):
                tree = ast.parse(path.read_text(encoding="utf-8"))
                imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
                imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
                imported |= graph[module]
                broken += [f"{module} imports {i}" for i in sorted(imported)
                           if any(i == b or i.startswith(b + ".") for b in names)]
    assert broken == []


def test_no_library_module_imports_the_tools():
    """vcfnet.tools (simulated predictions, report screenshots) is docs and test tooling: it may import
    the stages, and no other vcfnet module, commands and the service included, imports it."""
    graph = import_graph()
    broken = [f"{m} imports {i}" for m, imported in sorted(graph.items())
              if m != "vcfnet.tools" and not m.startswith("vcfnet.tools.")
              for i in sorted(imported) if i == "vcfnet.tools" or i.startswith("vcfnet.tools.")]
    assert broken == []
    assert "vcfnet.report.html" in graph["vcfnet.tools.simulate"]      # the walk sees the tools: not vacuous
