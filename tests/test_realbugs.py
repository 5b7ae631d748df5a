"""benchmarks/realbugs.py: the manifest, the fixed-hash split, the diff arithmetic and the matching
of findings to a bug's lines, down to one synthetic bug fixed in a throwaway git repository."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("realbugs", ROOT / "benchmarks" / "realbugs.py")
realbugs = importlib.util.module_from_spec(_spec)
sys.modules["realbugs"] = realbugs
_spec.loader.exec_module(realbugs)

SHA_A, SHA_B = "a" * 40, "b" * 40


def _entry(**overrides) -> str:
    fields = {"repository": '"owner/name"', "fix": f'"{SHA_A}"', "parent": f'"{SHA_B}"',
              "path": '"train.py"', "lines": "[3]", "codes": '["DL001"]',
              "framework": '"pytorch"', "description": '"d"', "source": '"s"'}
    fields.update(overrides)
    return "[[bug]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items()) + "\n"


def test_the_committed_manifest_parses_and_every_bug_has_a_half():
    bugs = realbugs.load_manifest()
    assert len({bug.key for bug in bugs}) == len(bugs)
    assert {bug.half for bug in bugs} == {"tuning", "held-out"}


@pytest.mark.parametrize("override, message", [
    ({"fix": '"abc"'}, "40-digit"),
    ({"codes": '["E501"]'}, "rule codes"),
    ({"lines": "[]"}, "positive line numbers"),
    ({"framework": '"caffe"'}, "framework"),
    ({"repository": '"nameonly"'}, "owner/name"),
])
def test_a_malformed_entry_is_refused_with_its_reason(override, message):
    with pytest.raises(realbugs.ManifestError, match=message):
        realbugs.parse_manifest(_entry(**override))


def test_the_same_bug_twice_is_refused():
    with pytest.raises(realbugs.ManifestError, match="twice"):
        realbugs.parse_manifest(_entry() + _entry())


def test_the_half_is_the_parity_of_the_first_byte_of_the_keys_sha256():
    bug = realbugs.parse_manifest(_entry())[0]
    assert bug.key == f"owner/name@{SHA_A}:train.py"
    first = hashlib.sha256(bug.key.encode()).digest()[0]
    assert bug.half == ("tuning" if first % 2 == 0 else "held-out")


def test_a_round_is_a_whole_number_from_one_and_absent_means_one():
    assert realbugs.parse_manifest(_entry())[0].round == 1
    assert realbugs.parse_manifest(_entry(round="2"))[0].round == 2
    for bad in ("0", "true", '"2"', "1.5"):
        with pytest.raises(realbugs.ManifestError, match="round"):
            realbugs.parse_manifest(_entry(round=bad))


def test_a_bugs_half_does_not_depend_on_its_round_or_on_the_other_bugs():
    fixes = [f"{n:040x}" for n in range(1, 41)]
    alone = {fix: realbugs.parse_manifest(_entry(fix=f'"{fix}"'))[0].half for fix in fixes}
    together = realbugs.parse_manifest("".join(
        _entry(fix=f'"{fix}"', round=str(1 + n % 3)) for n, fix in enumerate(fixes)))
    assert {bug.fix: bug.half for bug in together} == alone
    assert set(alone.values()) == {"tuning", "held-out"}  # forty keys fall in both halves
    # --round chooses within a half and never moves a bug to the other one.
    round_two = realbugs.in_half(together, "tuning", 2)
    assert round_two and all(b.round == 2 and alone[b.fix] == "tuning" for b in round_two)
    assert {b.fix for b in realbugs.in_half(together, "tuning")} == {
        fix for fix, half in alone.items() if half == "tuning"}


def test_round_option_refuses_a_round_the_manifest_lacks(capsys):
    with pytest.raises(SystemExit):
        realbugs.main(["split", "--round", "99"])
    assert "the manifest has rounds" in capsys.readouterr().err


DIFF = """\
@@ -3 +3 @@ import glob
-images = glob.glob("a/*")
+images = sorted(glob.glob("a/*"))
@@ -10,0 +11,2 @@ def train():
+    model.eval()
+    evaluate(model)
@@ -20,2 +21,0 @@ def rest():
-    x = 1
-    y = 2
"""


def test_hunks_give_the_changed_lines_on_each_side():
    hunks = realbugs.parse_hunks(DIFF)
    assert hunks == [realbugs.Hunk(3, 1, 3, 1), realbugs.Hunk(10, 0, 11, 2),
                     realbugs.Hunk(20, 2, 21, 0)]
    # A pure insertion marks the parent lines either side of it; a pure deletion, the fixed ones.
    assert realbugs.changed_lines(hunks, "old") == {3, 10, 11, 20, 21}
    assert realbugs.changed_lines(hunks, "new") == {3, 11, 12, 21, 22}


def test_parent_lines_map_to_their_place_in_the_fixed_file():
    hunks = realbugs.parse_hunks(DIFF)
    assert realbugs.map_to_fixed(2, hunks) == 2
    assert realbugs.map_to_fixed(3, hunks) == 3      # rewritten in place
    assert realbugs.map_to_fixed(10, hunks) == 10    # the line the insertion follows
    assert realbugs.map_to_fixed(11, hunks) == 13    # after two inserted lines
    assert realbugs.map_to_fixed(21, hunks) == 21    # a deleted line: where it was
    assert realbugs.map_to_fixed(30, hunks) == 30    # +2 then -2


def test_a_finding_counts_on_a_buggy_line_within_the_slack_or_through_a_related_location():
    targets = realbugs.targets_of([10], {40})
    near = ("DL001", "train.py", 12, frozenset())
    far = ("DL001", "train.py", 13, frozenset())
    changed = ("DL001", "train.py", 40, frozenset())
    other_code = ("DL004", "train.py", 10, frozenset())
    other_file = ("DL001", "data.py", 10, frozenset())
    related = ("DL001", "data.py", 99, frozenset({("train.py", 9)}))
    hits = realbugs.is_found(["DL001"], {"train.py": targets},
                             [near, far, changed, other_code, other_file, related])
    assert hits == [near, changed, related]
    # A symptom listed in another file of the folder counts there too.
    elsewhere = {"train.py": targets, "data.py": realbugs.targets_of([8], set())}
    assert realbugs.is_found(["DL001"], elsewhere, [other_file]) == [other_file]


def test_lines_elsewhere_must_be_in_the_bugs_folder():
    bug = realbugs.parse_manifest(_entry(path='"src/eval.py"')
                                  + 'elsewhere = { "src/train.py" = [4, 9] }\n')[0]
    assert bug.elsewhere == (("src/train.py", (4, 9)),)
    with pytest.raises(realbugs.ManifestError, match="elsewhere"):
        realbugs.parse_manifest(_entry(path='"src/eval.py"')
                                + 'elsewhere = { "other/train.py" = [4] }\n')


BUGGY = """\
import glob

import numpy as np

images = glob.glob("data/images/*.png")
masks = glob.glob("data/masks/*.png")
pairs = list(zip(images, masks))
np.save("pairs.npy", np.array(pairs))
import numpy_tools
"""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_synthetic_bug_is_found_at_the_parent_and_gone_after_the_fix(tmp_path):
    repo = tmp_path / "mirrors" / "someone+project" / "repo"
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=work, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (work / "data" / "pairs.py").write_text(BUGGY)
    (work / "data" / "helper.py").write_text("VALUE = 1\n")
    (work / "README").write_text("not Python\n")
    # Packages beside the file: the one it imports comes along, the other does not.
    for package, text in (("numpy_tools", "X = 1\n"), ("unrelated", "Y = 2\n")):
        (work / "data" / package / "sub").mkdir(parents=True)
        (work / "data" / package / "__init__.py").write_text(text)
        (work / "data" / package / "sub" / "deep.py").write_text(text)
    git("add", "-A")
    git("commit", "-q", "-m", "buggy")
    parent = git("rev-parse", "HEAD")
    fixed = BUGGY.replace('glob.glob("data/images/*.png")', 'sorted(glob.glob("data/images/*.png"))')
    fixed = fixed.replace('glob.glob("data/masks/*.png")', 'sorted(glob.glob("data/masks/*.png"))')
    (work / "data" / "pairs.py").write_text(fixed)
    git("commit", "-q", "-am", "fix")
    fix = git("rev-parse", "HEAD")
    repo.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(repo)], check=True)

    bug = realbugs.parse_manifest(_entry(repository='"someone/project"', fix=f'"{fix}"',
                                         parent=f'"{parent}"', path='"data/pairs.py"',
                                         lines="[7]"))[0]
    found = realbugs.measure(bug, tmp_path / "mirrors", "parent")
    assert found.error is None
    assert {(code, path) for code, path, _, _ in found.hits} == {("DL001", "data/pairs.py")}
    copied = tmp_path / "copied"
    realbugs.materialise(bug.git_dir(tmp_path / "mirrors"), parent, "data/pairs.py", copied)
    assert sorted(p.relative_to(copied).as_posix() for p in copied.rglob("*.py")) == [
        "data/helper.py", "data/numpy_tools/__init__.py", "data/numpy_tools/sub/deep.py",
        "data/pairs.py"]
    after = realbugs.measure(bug, tmp_path / "mirrors", "fix")
    assert after.error is None and after.hits == []

    missing = realbugs.parse_manifest(_entry(repository='"someone/project"', fix=f'"{fix}"',
                                             parent=f'"{SHA_B}"', path='"data/pairs.py"'))[0]
    assert "git" in realbugs.measure(missing, tmp_path / "mirrors", "parent").error
