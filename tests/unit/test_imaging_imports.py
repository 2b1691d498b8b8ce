"""app.imaging is pure Pillow: none of its modules may import from the rest of app."""

import ast
from pathlib import Path

import pytest

IMAGING = Path(__file__).resolve().parents[2] / "app" / "imaging"


def imported_modules(path: Path) -> list[str]:
    """Every module an import statement in the file names (relative imports resolved against app.imaging)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("app.imaging" if node.level else node.module or "")
    return names


def test_the_imaging_package_has_modules():
    assert len(list(IMAGING.glob("*.py"))) >= 5


@pytest.mark.parametrize("path", sorted(IMAGING.glob("*.py")), ids=lambda path: path.name)
def test_imaging_module_imports_nothing_from_the_rest_of_app(path):
    outside = [
        name for name in imported_modules(path) if name.split(".")[0] == "app" and not name.startswith("app.imaging")
    ]
    assert outside == [], f"{path.name} imports {outside}"
