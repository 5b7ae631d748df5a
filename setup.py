"""Which packages the wheel holds: every package under dllint/ as found on disk, so that a new
subpackage cannot be left out (a hand-written list once left out dllint.runtime.distributed and
broke `dllint trace` in every non-editable install), and the rules, which live in rules/ and
install as dllint.rules (pyproject.toml's package-dir). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["dllint", "dllint.*"]),
                "dllint.rules", *(f"dllint.rules.{name}" for name in find_packages("rules"))])
