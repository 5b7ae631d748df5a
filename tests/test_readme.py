"""The README's rule table and set-up commands stay true."""

from __future__ import annotations

import re

import pytest

from dllint.engine_codes import ENGINE_CODES
from dllint.registry import all_rules, runtime_codes

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_rule_table_lists_every_code_with_its_name():
    rows = dict(re.findall(r"^\| ((?:DL|RT)\d{3}) \| `([a-z0-9-]+)` \|", README, flags=re.MULTILINE))
    expected = {rule.code: rule.name for rule in all_rules()}
    expected.update({code: entry.name for code, entry in ENGINE_CODES.items()})
    expected.update({code: entry.name for code, entry in runtime_codes().items()})
    assert rows == expected


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    commands = re.findall(r"^```sh\n(.+?)\n```", README, flags=re.MULTILINE)
    setup = [command for command in commands if "pip install" in command]
    assert len(setup) == 2
    test_command = setup[1].rsplit("&&", 1)[1].strip()
    assert test_command == "python -m pytest" and test_command in ci
    assert "torch==2.13.0" in ci and ci.index("torch==2.13.0") < ci.index("-e '.[dev,runtime,integration]'")
    assert "-c constraints.txt" in ci  # torch stays the CPU wheel under transformers/lightning


def test_every_output_block_comes_from_a_real_run():
    """Each ```$ dllint ...``` block shows exactly what the command prints today (paths and
    timings masked); `python scripts/update_readme_outputs.py` rewrites them."""
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    from update_readme_outputs import mask, output_blocks, run

    blocks = output_blocks(README)
    assert [block.command.split()[1] for block in blocks].count("trace") >= 2
    assert any(block.command.startswith("dllint fixtures/") for block in blocks)
    for block in blocks:
        if block.command.startswith("dllint trace"):
            pytest.importorskip("torch")
        assert mask(block.shown) == run(block.command), f"README is out of date: $ {block.command}"


def test_output_block_check_can_fail():
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    from update_readme_outputs import mask, run

    assert mask("Found 1 problem in 1 file checked.\n") != run(
        "dllint fixtures/static/buggy_project/train.py")
