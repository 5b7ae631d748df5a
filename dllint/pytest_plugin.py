"""pytest plugin: the `dllint_trace` fixture runs a training step under dllint's instruments.

    def test_model_trains(dllint_trace):
        report = dllint_trace(model, (x, y), nn.CrossEntropyLoss())
        assert report.codes == []

torch is imported only when the fixture is used, so installing dllint never slows pytest down.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def dllint_trace():
    from dllint.runtime.api import trace_step

    return trace_step
