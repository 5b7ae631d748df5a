"""The pip command that adds an extra (runtime, lsp, plot) to *this* installation of dllint.

dllint is installed from its repository (a path or a VCS URL), not from a package index, so
`pip install 'dllint[runtime]'` would name a package that does not exist. The command is built
from where this copy came from: its source checkout, or the PEP 610 `direct_url.json` pip
recorded when it installed it.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

# torch's CPU-only wheels; a plain `pip install torch` on Linux pulls the CUDA build (gigabytes).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def install_command(extra: str) -> str:
    checkout = _source_checkout()
    if checkout is not None:
        command = f"pip install -e '{checkout}[{extra}]'"
    else:
        command = f"pip install '{_requirement(extra)}'"
    if extra == "runtime":
        command += (f" (for the CPU-only torch first run: pip install torch --index-url "
                    f"{TORCH_CPU_INDEX})")
    return command


def _source_checkout() -> Path | None:
    """The repository root when this dllint runs from a source tree (an editable install)."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "dllint"' in pyproject.read_text(encoding="utf-8"):
            return root
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _requirement(extra: str) -> str:
    try:
        recorded = metadata.distribution("dllint").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        recorded = None
    if recorded:
        try:
            origin = json.loads(recorded)
        except json.JSONDecodeError:
            origin = {}
        url = origin.get("url", "")
        vcs = origin.get("vcs_info")
        if vcs and url:
            commit = vcs.get("commit_id", "")
            return f"dllint[{extra}] @ {vcs.get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else "")
        if url:
            return f"dllint[{extra}] @ {url}"
    return f"dllint[{extra}]"
