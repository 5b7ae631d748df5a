"""Notebooks: code cells linted in order, IPython syntax tolerated, findings named by cell,
and --fix writing back a valid notebook with outputs untouched."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

nbformat = pytest.importorskip("nbformat")

from conftest import TEST_DATA  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.config import FileConfig, build_settings  # noqa: E402
from dllint.engine import lint_file  # noqa: E402

LISTING_CELL = ("import glob\n"
                "images = glob.glob('images/*.png')\n"
                "masks = sorted(glob.glob('masks/*.png'))\n"
                "pairs = list(zip(images, masks))")


def make_notebook(path, cells, kernel="python"):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": kernel,
                                       "display_name": "Python 3"}
    for kind, source in cells:
        if kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
            cell.execution_count = 1
            notebook.cells.append(cell)
    nbformat.write(notebook, str(path))
    return path


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    return make_notebook(tmp_path / "explore.ipynb", [
        ("markdown", "# Data"),
        ("code", "%matplotlib inline\n!pip install timm\nfiles = !ls data\nlen?"),
        ("code", LISTING_CELL),
        ("code", "%%bash\nls -la | grep png"),
        ("code", "%%time\nfor pair in pairs:\n    %time print(pair)\n    !echo done"),
    ])


def lint(path, **options):
    return lint_file(str(path), build_settings(FileConfig(root=path.parent), **options))


def test_findings_name_the_cell_and_the_line_in_it(notebook):
    result = lint(notebook)
    assert [(d.code, d.cell, d.line, d.column) for d in result.diagnostics] == [
        ("DL001", 3, 2, 10)]
    assert [(r.cell, r.span.start_line) for r in result.diagnostics[0].related] == [(3, 4)]


def test_text_json_and_sarif_carry_the_cell(notebook):
    text = CliRunner().invoke(main, [".", "--no-cache"]).output
    assert "explore.ipynb:cell 3:2:10: DL001" in text
    data = json.loads(CliRunner().invoke(main, [".", "--no-cache", "--format", "json"]).output)
    assert data[0]["cell"] == 3 and data[0]["line"] == 2 and data[0]["related"][0]["cell"] == 3
    assert data[0]["fix"]["edits"][0]["line"] == 2  # edits in the cell's coordinates too
    sarif = json.loads(CliRunner().invoke(main, [".", "--no-cache", "--format", "sarif"]).output)
    jsonschema.validate(sarif, json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text()))
    location = sarif["runs"][0]["results"][0]["locations"][0]
    assert location["properties"] == {"cell": 3}
    github = CliRunner().invoke(main, [".", "--no-cache", "--format", "github"]).output
    assert "::error file=explore.ipynb,title=DL001" in github and "cell 3, line 2" in github


def test_fix_writes_back_a_valid_notebook_with_outputs_untouched(notebook):
    before = nbformat.read(str(notebook), as_version=4)
    result = CliRunner().invoke(main, [".", "--no-cache", "--fix"])
    assert result.exit_code == 0, result.output
    after = nbformat.read(str(notebook), as_version=4)
    nbformat.validate(after)
    assert after.cells[2].source == LISTING_CELL.replace(
        "glob.glob('images/*.png')", "sorted(glob.glob('images/*.png'))")
    for old, new in zip(before.cells, after.cells):
        assert old.get("outputs") == new.get("outputs")
        if old is not before.cells[2]:
            assert old.source == new.source  # magics and shell lines come back verbatim
    assert lint(notebook).diagnostics == ()


def test_a_fix_that_would_change_a_cells_line_count_is_not_written(notebook, monkeypatch):
    from dllint.rule import NodeFix

    def multiline(cls, node, prefix, suffix, **kwargs):
        return NodeFix.replace(node, "sorted(\n    glob.glob('images/*.png'))", description="x")

    monkeypatch.setattr(NodeFix, "wrap", classmethod(multiline))
    original = notebook.read_text()
    result = lint(notebook, fix=True)
    assert result.fixed_source is None and [d.code for d in result.diagnostics] == ["DL001"]
    assert notebook.read_text() == original


def test_suppressions_syntax_errors_and_bad_notebooks(tmp_path):
    suppressed = make_notebook(tmp_path / "a.ipynb", [
        ("code", LISTING_CELL.replace("'images/*.png')", "'images/*.png')  # dllint: ignore[DL001]"))])
    assert lint(suppressed).diagnostics == ()
    broken = make_notebook(tmp_path / "b.ipynb", [("code", "x = 1"), ("code", "def f(:\n    pass")])
    assert [(d.code, d.cell, d.line) for d in lint(broken).diagnostics] == [("DL903", 2, 1)]
    invalid = tmp_path / "c.ipynb"
    invalid.write_text('{"cells": [')
    assert [d.code for d in lint(invalid).diagnostics] == ["DL906"]
    julia = make_notebook(tmp_path / "d.ipynb", [("code", "x = 1")], kernel="julia")
    assert "not Python" in lint(julia).diagnostics[0].message


def test_a_shell_command_continued_with_a_backslash_is_shell_throughout(tmp_path):
    path = make_notebook(tmp_path / "setup.ipynb", [
        ("code", "! cd /tmp && wget https://example.com/key.pub && \\\n"
                 "    apt-key add key.pub\n%pip install \\\n  timm \\\n  torch\nx = 1"),
        ("code", LISTING_CELL),
    ])
    assert [(d.code, d.cell, d.line) for d in lint(path).diagnostics] == [("DL001", 2, 2)]


CODE_CELL = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": "x = 1\n"}


def _nbformat4(**changes):
    document = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [CODE_CELL]}
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(("text", "message"), [
    (_nbformat4(metadata=None), "metadata must be an object, not null"),
    (_nbformat4(metadata=[]), "metadata must be an object, not a list"),
    (_nbformat4(metadata={"kernelspec": "python"}),
     "metadata.kernelspec must be null or an object, not a string"),
    (_nbformat4(metadata={"kernelspec": {"language": 3}}),
     "metadata.kernelspec.language must be a string, not an integer"),
    (_nbformat4(cells=[{**CODE_CELL, "source": [1, 2]}]),
     "cells[0].source[0] must be a string, not an integer"),
    (_nbformat4(cells=[CODE_CELL, {**CODE_CELL, "source": None}]),
     "cells[1].source must be a string or a list of strings, not null"),
    (_nbformat4(cells=[CODE_CELL, "x = 1"]), "cells[1] must be an object, not a string"),
    (_nbformat4(cells=[{"source": "x = 1"}]), "cells[0].cell_type is missing"),
    (_nbformat4(cells={}), "cells must be a list of objects, not an object"),
    (_nbformat4(nbformat="4"), "nbformat must be an integer, not a string"),
    ("[]", "the document must be an object, not a list"),
    (json.dumps({"nbformat": 4, "metadata": {}}), "cells is missing"),
    ("[" * 100_000 + "]" * 100_000, "nests more than 200 levels deep"),
    (_nbformat4(metadata={"widgets": json.loads("[" * 300 + "]" * 300)}),
     "nests more than 200 levels deep"),
])
def test_a_notebook_of_the_wrong_shape_is_reported_and_the_run_goes_on(tmp_path, text, message):
    (tmp_path / "broken.ipynb").write_text(text)
    make_notebook(tmp_path / "fine.ipynb", [("code", LISTING_CELL)])
    result = CliRunner().invoke(main, ["check", "--no-cache", "--format", "json", str(tmp_path)])
    assert result.exit_code == 1, result.output
    found = {(item["path"].rsplit("/", 1)[-1], item["code"]): item["message"]
             for item in json.loads(result.output)}
    assert set(found) == {("broken.ipynb", "DL906"), ("fine.ipynb", "DL001")}
    assert message in found[("broken.ipynb", "DL906")]


def test_an_nbformat_3_notebook_is_reported_as_unsupported(tmp_path):
    path = tmp_path / "old.ipynb"
    nbformat.write(nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_code_cell("x = 1")])]), str(path), version=3)
    [diagnostic] = lint(path).diagnostics
    assert diagnostic.code == "DL906"
    assert "nbformat 3, which dllint does not read: only nbformat 4 is supported" \
        in diagnostic.message


def test_a_notebook_without_the_fields_dllint_does_not_read_is_still_linted(tmp_path):
    path = tmp_path / "minimal.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": LISTING_CELL}]}))
    assert [d.code for d in lint(path).diagnostics] == ["DL001"]


def test_fix_writes_source_lines_back_split_where_nbformat_splits_them(tmp_path, monkeypatch):
    """A cell stored as a list of lines is written back split at "\\n" only: a form feed or a
    "\\u2028" inside a line stays inside its line."""
    monkeypatch.chdir(tmp_path)
    cell = "x = 1  # \x0c\u2028 page\n" + LISTING_CELL
    path = tmp_path / "feed.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": [line + "\n" for line in cell.split("\n")[:-1]] + [cell.split("\n")[-1]]}]}))
    result = CliRunner().invoke(main, [".", "--no-cache", "--fix"])
    assert result.exit_code == 0, result.output
    source = json.loads(path.read_text())["cells"][0]["source"]
    assert source[0] == "x = 1  # \x0c\u2028 page\n"
    assert len(source) == cell.count("\n") + 1
    assert "sorted(glob.glob('images/*.png'))" in "".join(source)


# IPython syntax as IPython's input transformers read it (IPython/core/inputtransformer2.py):
# each form leaves the notebook linted, so the finding in the next cell is still reported.
@pytest.mark.parametrize("cell", [
    "cd data",  # automagic: a line magic without its `%`, in a cell of one line
    "pip install timm",
    "ls -la data | grep png",  # a shell alias run without `!`
    "model.fit?",  # help at the end of a line
    "model.fit??",
    "%timeit?",
    "?model",  # help escape at the start
    "!!ls",
    ",print a b",  # auto-quote and auto-call escapes
    ";print a b",
    "/print a b",
    "# is the order right?\nx = 1",  # a comment ending in `?` is a comment
    "x = (7\n     % 3)",  # `%` that continues a bracketed line is the modulo operator
    "total = 7 \\\n    % 3",  # ... and so after a backslash
    "    import os\n    here = os.getcwd()",  # IPython removes the first line's indentation
    ">>> import os\n>>> here = os.getcwd()",  # a pasted console session
    "In [3]: here = 1",
    "files = !ls data\nstart, = %time f()",  # any target, any magic
    "for name in names:\n    !echo {name} \\\n        --verbose\n    count = 1",
    "text = '''\n!not a shell line, a string\n'''",
])
def test_ipython_syntax_leaves_the_notebook_linted(tmp_path, cell):
    path = make_notebook(tmp_path / "ipython.ipynb", [("code", cell), ("code", LISTING_CELL)])
    assert [(d.code, d.cell, d.line) for d in lint(path).diagnostics] == [("DL001", 2, 2)]


def test_a_line_ending_in_a_question_in_its_comment_is_still_python(tmp_path):
    cell = LISTING_CELL.replace("'images/*.png')", "'images/*.png')  # in which order?")
    path = make_notebook(tmp_path / "comment.ipynb", [("code", cell)])
    assert [(d.code, d.cell, d.line) for d in lint(path).diagnostics] == [("DL001", 1, 2)]


def test_a_cell_that_ipython_rejects_is_its_own_syntax_error(tmp_path):
    """Automagic is IPython's only in a cell of one line, and `f(x)?` is no help query: IPython
    fails on these cells, and so does dllint, cell by cell; the cells around are linted."""
    path = make_notebook(tmp_path / "rejected.ipynb", [
        ("code", LISTING_CELL),
        ("code", "pip install timm\npip install torch"),
        ("code", "x = 1\nprint(len(x))?"),
        ("code", "def broken(:\n    pass"),
        ("code", LISTING_CELL),
    ])
    assert [(d.code, d.cell, d.line) for d in lint(path).diagnostics] == [
        ("DL001", 1, 2), ("DL903", 2, 1), ("DL903", 3, 2), ("DL903", 4, 1), ("DL001", 5, 2)]


def test_a_disabled_syntax_error_of_a_cell_is_not_reported(tmp_path):
    path = make_notebook(tmp_path / "quiet.ipynb", [("code", "def broken(:\n    pass"),
                                                    ("code", LISTING_CELL)])
    assert [d.code for d in lint(path, ignore=("DL903",)).diagnostics] == ["DL001"]


def test_an_indented_cell_maps_columns_and_fixes_back_with_its_indentation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    indented = "\n".join("  " + line for line in LISTING_CELL.split("\n"))
    path = make_notebook(tmp_path / "indented.ipynb", [("code", indented)])
    [finding] = lint(path).diagnostics
    assert (finding.code, finding.line, finding.column) == ("DL001", 2, 12)
    assert finding.fix.edits[0].span.start_column == 12
    result = CliRunner().invoke(main, [".", "--no-cache", "--fix"])
    assert result.exit_code == 0, result.output
    assert nbformat.read(str(path), as_version=4).cells[0].source == indented.replace(
        "glob.glob('images/*.png')", "sorted(glob.glob('images/*.png'))")


def test_a_syntax_error_in_a_prompted_cell_names_the_column_the_user_sees(tmp_path):
    path = make_notebook(tmp_path / "prompt.ipynb", [("code", ">>> x = (1,\n... ]")])
    [problem] = lint(path).diagnostics
    assert (problem.code, problem.cell, problem.line, problem.column) == ("DL903", 1, 2, 5)


@pytest.mark.parametrize(("cell", "python"), [
    # Inside a string, after an open bracket or a backslash, nothing is IPython's syntax.
    ("text = '''\n!not a shell line\n%d items?\n'''",
     "text = '''\n!not a shell line\n%d items?\n'''"),
    ("x = (7\n     % 3)", "x = (7\n     % 3)"),
    ("x = 7 \\\n    % 3", "x = 7 \\\n    % 3"),
    ("print('?')  # why?", "print('?')  # why?"),
    # At the start of a logical line it is, with the line's indentation kept.
    ("for f in files:\n    !echo {f} \\\n        more\n    model.fit??",
     "for f in files:\n    pass\n\n    pass"),
    ("out = !ls\nself.t, = %time f()", "out = None\nself.t, = None"),
    ("  a = 1\n  if a:\n      b = 2", "a = 1\nif a:\n    b = 2"),
])
def test_cells_are_translated_line_for_line_as_ipython_reads_them(tmp_path, cell, python):
    from dllint import notebooks
    path = make_notebook(tmp_path / "translate.ipynb", [("code", cell)])
    notebook = notebooks.parse(str(path), path.read_text())
    assert notebook.problems == []
    assert notebook.text == python + "\n"
