"""dllint/rule_table.py, what settings and the runner read instead of importing the rules (and
libcst): it must say what the rule classes say, and a table that drifted must stop a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from dllint import registry, rule_table
from dllint.config import resolve_enabled
from dllint.registry import StaleRuleTable, all_rules, imported_rules, known_codes
from dllint.rule_table import RULE_TABLE, RuleEntry, entry_of, table_source


def test_the_table_says_what_the_rule_classes_say():
    assert RULE_TABLE == tuple(entry_of(rule) for rule in imported_rules())


def test_the_file_holds_the_table_as_write_would_write_it():
    """`python -m dllint.rule_table --write` on a current table changes nothing."""
    text = Path(rule_table.__file__).read_text(encoding="utf-8")
    assert table_source(RULE_TABLE) in text


def test_settings_enable_by_the_table_what_the_classes_enable():
    by_default = {rule.code for rule in all_rules() if rule.enabled_by_default}
    assert resolve_enabled(None, (), ()) == by_default
    assert resolve_enabled(["ALL"], (), ["DL3"]) == {
        rule.code for rule in all_rules() if not rule.code.startswith("DL3")}
    assert {rule.code for rule in all_rules()} <= known_codes()


def test_a_table_that_drifted_from_the_rules_stops_the_run(monkeypatch):
    first = RULE_TABLE[0]
    drifted = (first._replace(uses_model=not first.uses_model), *RULE_TABLE[1:])
    monkeypatch.setattr(registry, "RULE_TABLE", drifted)
    registry.all_rules.cache_clear()
    try:
        with pytest.raises(StaleRuleTable, match=rf"{first.code}.*python -m dllint.rule_table"):
            registry.all_rules()
        monkeypatch.setattr(registry, "RULE_TABLE", RULE_TABLE[1:])  # a rule missing
        with pytest.raises(StaleRuleTable):
            registry.all_rules()
    finally:
        registry.all_rules.cache_clear()
    monkeypatch.undo()
    assert len(registry.all_rules()) == len(RULE_TABLE)


def test_write_regenerates_the_table(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "rule_table.py"
    original = Path(rule_table.__file__).read_text(encoding="utf-8")
    stale = original.replace(table_source(RULE_TABLE), table_source(
        (*RULE_TABLE[:-1], RuleEntry("DL999", "gone", True, True))))
    assert stale != original
    copy.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(rule_table, "__file__", str(copy))
    assert rule_table.main(["--write"]) == 0
    assert copy.read_text(encoding="utf-8") == original
    assert rule_table.main([]) == 0
    assert capsys.readouterr().out.endswith(table_source(RULE_TABLE))
