"""Rewrite the rule table in README.md from `dllint rules` (tests/test_readme.py checks it)."""

from __future__ import annotations

from pathlib import Path

from dllint.engine_codes import ENGINE_CODES, UNUSED_SUPPRESSION
from dllint.registry import all_rules, runtime_codes

README = Path(__file__).resolve().parent.parent / "README.md"


def table() -> str:
    rows = ["| code | name | summary | fix | on by default |", "|---|---|---|---|---|"]
    for rule in all_rules():
        fix = "" if rule.fix_availability.value == "none" else rule.fix_availability.value
        rows.append(f"| {rule.code} | `{rule.name}` | {rule.summary} | {fix} | "
                    f"{'yes' if rule.enabled_by_default else 'no'} |")
    for entry in ENGINE_CODES.values():
        default = "no" if entry.code == UNUSED_SUPPRESSION.code else "yes"
        rows.append(f"| {entry.code} | `{entry.name}` | {entry.summary} |  | {default} |")
    for entry in runtime_codes().values():
        rows.append(f"| {entry.code} | `{entry.name}` | {entry.summary} (`dllint trace`) |  | yes |")
    return "\n".join(rows)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    marker = "<!-- rules-table: kept in step with `dllint rules` by tests/test_readme.py -->\n"
    start = text.index(marker) + len(marker)
    end = text.index("\n\n", start)
    README.write_text(text[:start] + table() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
