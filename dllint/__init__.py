"""dllint: find the silent bugs that make a deep-learning model train badly."""

__version__ = "0.1.0"

from dllint.api import lint_paths, lint_source  # noqa: E402
from dllint.types import Diagnostic, Severity  # noqa: E402

__all__ = ["Diagnostic", "Severity", "__version__", "lint_paths", "lint_source"]
