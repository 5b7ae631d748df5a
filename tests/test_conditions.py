"""What branch conditions say about values (`dllint/semantic/conditions.py`), and the model's
use of it: dtype tags narrowed inside a dtype test's branches, branches no call takes pruned."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from dllint.context import FileContext
from dllint.semantic.conditions import (
    EVERY_BUCKET, FLOAT64_BUCKET, OTHER, OTHER_FLOAT, UINT8_BUCKET, decided, dtype_narrowings)
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import analyse
from dllint.semantic.values import UINT8, has

_IMPORTS = "import numpy as np\nimport torch\nimport tensorflow as tf\n"


def _narrowings(test: str, holds: bool) -> dict[str, frozenset[str]]:
    module = cst.parse_module(_IMPORTS + f"if {test}:\n    pass\n")
    imports = ImportMap.from_module(module)
    node = module.body[-1]
    assert isinstance(node, cst.If)
    return dict(dtype_narrowings(node.test, holds, imports.qualified_name))


@pytest.mark.parametrize(("test", "holds", "buckets"), [
    ("img.dtype == np.uint8", True, {UINT8_BUCKET}),
    ("img.dtype == np.uint8", False, EVERY_BUCKET - {UINT8_BUCKET}),
    ("img.dtype != np.uint8", True, EVERY_BUCKET - {UINT8_BUCKET}),
    ("img.dtype is torch.uint8", True, {UINT8_BUCKET}),
    ("img.dtype in [np.float32, np.float64]", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("img.dtype not in (np.float32, np.float64)", True, EVERY_BUCKET - {FLOAT64_BUCKET}),
    ("img.dtype == 'uint8'", True, {UINT8_BUCKET}),
    ("str(img.dtype) == 'float32'", True, {OTHER_FLOAT}),
    ("img.dtype.name == 'uint8'", False, EVERY_BUCKET - {UINT8_BUCKET}),
    ("img.is_floating_point()", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("img.is_floating_point()", False, {UINT8_BUCKET, OTHER}),
    ("np.issubdtype(img.dtype, np.floating)", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("np.issubdtype(img.dtype, np.integer)", False, EVERY_BUCKET - {UINT8_BUCKET}),
    ("tf.as_dtype(img.dtype).is_floating", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("img.dtype.kind == 'f'", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("isinstance(img, float)", True, {OTHER_FLOAT, FLOAT64_BUCKET}),
    ("not img.dtype == np.uint8", True, EVERY_BUCKET - {UINT8_BUCKET}),
    ("img.ndim == 3 and img.dtype == np.uint8", True, {UINT8_BUCKET}),
    ("img.dtype == torch.float", True, {OTHER_FLOAT}),
])
def test_a_dtype_test_says_which_dtypes_its_variable_may_have(test, holds, buckets):
    assert _narrowings(test, holds) == {"img": frozenset(buckets)}


@pytest.mark.parametrize(("test", "holds"), [
    ("img.dtype != np.float32", True),  # float16 is not float32 either: nothing is known
    ("img.dtype == np.uint8 and img.ndim == 3", False),  # either side may fail
    ("img.dtype == np.uint8 or other", True),
    ("img.max() > 1", True),  # a range, not a dtype
    ("img.dtype == mystery", True),
    ("isinstance(img, np.ndarray)", True),
])
def test_other_tests_narrow_nothing(test, holds):
    assert _narrowings(test, holds) == {}


@pytest.mark.parametrize(("test", "constants", "expected"), [
    ("quantize", {"quantize": (False,)}, False),
    ("not quantize", {"quantize": (False, False)}, True),
    ("quantize", {"quantize": (False, True)}, None),
    ("mode == 'divide'", {"mode": ("sub_mean",)}, False),
    ("mode != 'divide'", {"mode": ("sub_mean",)}, True),
    ("mode in ('a', 'b')", {"mode": ("b", "a")}, True),
    ("mode not in ['a']", {"mode": ("b",)}, True),
    ("size is None", {"size": (None,)}, True),
    ("size is not None", {"size": (3,)}, True),
    ("quantize and other", {"quantize": (False,)}, False),
    ("quantize or other", {"quantize": (False,)}, None),
    ("mode == other", {"mode": ("a",)}, None),
    ("unknown", {"mode": ("a",)}, None),
])
def test_a_test_on_constant_parameters_is_decided(test, constants, expected):
    assert decided(cst.parse_expression(test), constants) is expected


def _returned(source: str, function: str):
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    model = analyse(context, None, lambda model: [])
    return model.scopes.local_functions[function]


_HELPER = """
    import cv2
    import numpy as np

    def read_tile(path, raw=False):
        tile = cv2.imread(path)
        if not raw:
            tile = tile.astype(np.float32)
        return tile
"""


@pytest.mark.parametrize(("calls", "uint8"), [
    ("a = read_tile('a.png')\nb = read_tile('b.png', False)\n", False),
    ("a = read_tile('a.png', raw=True)\n", True),
    ("a = read_tile('a.png')\nb = read_tile('b.png', raw=flag)\n", True),
    ("a = read_tile('a.png')\nb = read_tile(*paths)\n", True),
    # Handed on: called in ways no call site shows.
    ("import functools\na = read_tile('a.png')\nb = functools.partial(read_tile, raw=True)\n",
     True),
    ("", True),  # no call at all: nothing is known of its arguments
])
def test_a_branch_no_call_takes_does_not_reach_the_return(calls, uint8):
    returned = _returned(_HELPER + textwrap.indent(calls, "    "), "read_tile")
    assert has(returned, UINT8) is uint8


@pytest.mark.parametrize(("rebinding", "uint8"), [
    ("", False),
    ("raw = bool(raw)", True),
    ("for raw in (True, False):\n    pass", True),
    ("if (raw := not raw):\n    pass", True),
])
def test_a_parameter_the_body_binds_again_decides_nothing(rebinding, uint8):
    source = textwrap.dedent("""
        import cv2
        import numpy as np

        def read_tile(path, raw=False):
            tile = cv2.imread(path)
        {rebinding}
            if not raw:
                tile = tile.astype(np.float32)
            return tile

        a = read_tile("a.png")
    """).format(rebinding=textwrap.indent(rebinding, "    "))
    assert has(_returned(source, "read_tile"), UINT8) is uint8
