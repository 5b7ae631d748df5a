"""Summaries shared by the files of one run, so a model defined in `model.py` is known in `train.py`.

Phase one summarises every file that defines an nn.Module or a function returning something the
rules care about; phase two lints each file with the whole index at hand. Summaries are small,
plain data (picklable, JSON-able): they travel to worker processes and into the cache key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dllint.semantic.values import Value


@dataclass
class ProjectIndex:
    # Qualified name ("pkg.model.Net") -> summary, for classes and module-level functions.
    classes: dict[str, object] = field(default_factory=dict)
    functions: dict[str, Value] = field(default_factory=dict)
    # Files of the run by module name, to resolve `from model import Net` next to train.py.
    modules: dict[str, list[str]] = field(default_factory=dict)

    def lookup_class(self, qualified: str, importer: str):
        return self._lookup(self.classes, qualified, importer)

    def lookup_function(self, qualified: str, importer: str) -> Value | None:
        return self._lookup(self.functions, qualified, importer)

    def _lookup(self, table: dict, qualified: str, importer: str):
        if not table:
            return None
        for candidate in _candidates(qualified, importer):
            if candidate in table:
                return table[candidate]
        return None


def _candidates(qualified: str, importer: str) -> list[str]:
    """`from .model import Net` and `from model import Net` both name the sibling model.py."""
    if qualified.startswith("."):
        dots = len(qualified) - len(qualified.lstrip("."))
        package = module_name(importer).split(".")[:-1]
        base = package[: len(package) - (dots - 1)] if dots > 1 else package
        return [".".join([*base, qualified.lstrip(".")])]
    candidates = [qualified]
    package = module_name(importer).split(".")[:-1]
    if package:
        candidates.append(".".join([*package, qualified]))
    return candidates


def module_name(path: str) -> str:
    """Dotted module name of a file, from the nearest directory without `__init__.py`."""
    file = Path(path).resolve()
    parts = [file.stem] if file.stem != "__init__" else []
    directory = file.parent
    while (directory / "__init__.py").exists() and directory != directory.parent:
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)
