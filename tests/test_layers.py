"""The package's imports run one way: from the layers above to the layers below.

The layers are drawn in ``docs/developer.rst``; this test reads every import
statement of the package (at module level and inside functions) and checks
that no unit imports one of a higher layer, that the units import one another
without a cycle, and that no module imports the private module of another
subpackage.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "minuet"

#: From the bottom up; a unit may import units of its own layer or of lower ones.
LAYERS = (
    ("minuet._version", "minuet._vocabulary", "minuet._validation", "minuet._config",
     "minuet._weights", "minuet._latents", "minuet._fitting", "minuet._heads",
     "minuet._prefetch"),
    ("minuet.cutouts", "minuet.models"),
    ("minuet.simulate", "minuet.posterior", "minuet.morphology", "minuet.neighbours",
     "minuet.anomaly", "minuet.typicality"),
    ("minuet.training",),
    ("minuet.baselines", "minuet.evaluation"),
    ("minuet._bundle", "minuet.registry", "minuet._codec", "minuet._science", "minuet.core"),
    ("minuet.catalogue", "minuet.visualization"),
    ("minuet.explorer", "minuet._demo", "minuet.cli", "minuet"),
)
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name):
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py").is_file()


def imports():
    """Yield ``(importer, imported module)`` for every import of a minuet module."""
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # ``from . import _bundle`` imports the module minuet._bundle
                targets = [f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}")
                           else target for alias in node.names]
            else:
                continue
            for target in targets:
                if target == "minuet" or target.startswith("minuet."):
                    yield module, target


def unit(module):
    """The unit of a module: its top-level subpackage or root module."""
    parts = module.split(".")
    return module if len(parts) == 1 else ".".join(parts[:2])


def test_every_unit_has_a_layer():
    units = {unit(module) for pair in imports() for module in pair}
    assert units - set(LEVEL) == set()


def test_no_import_climbs_a_layer():
    upward = sorted(
        (importer, imported) for importer, imported in imports()
        if LEVEL[unit(imported)] > LEVEL[unit(importer)]
    )
    assert upward == []


def test_units_import_one_another_without_a_cycle():
    graph = {}
    for importer, imported in imports():
        a, b = unit(importer), unit(imported)
        if a != b and b != "minuet":
            graph.setdefault(a, set()).add(b)
    done, active = set(), []

    def visit(node):
        if node in active:
            cycle = [*active[active.index(node):], node]
            pytest.fail(f"import cycle {' -> '.join(cycle)}")
        if node in done:
            return
        active.append(node)
        for child in sorted(graph.get(node, ())):
            visit(child)
        active.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_no_private_module_is_imported_from_another_subpackage():
    crossing = []
    for importer, imported in imports():
        parts = imported.split(".")
        private = [i for i, part in enumerate(parts) if part.startswith("_") and i >= 2]
        owner = ".".join(parts[:private[0]]) if private else None
        if owner and not (importer == owner or importer.startswith(owner + ".")):
            crossing.append((importer, imported))
    assert crossing == []


@pytest.mark.parametrize("statement", [
    "import minuet.training",
    "from minuet import Minuet; Minuet.pretrained()",
])
def test_training_and_the_pretrained_model_leave_photutils_unimported(statement):
    code = f"import sys; {statement}; print('photutils' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "False"


def test_the_walker_sees_imports():
    pairs = set(imports())
    assert ("minuet.core", "minuet._bundle") in pairs  # from . import _bundle
    assert ("minuet.training._footprint", "minuet.cutouts") in pairs  # relative
