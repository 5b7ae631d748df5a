"""The tracer's dispatcher and its check registry: one registered class per RT code, each with
a fixture that is its specification; events reach only their subscribers; a subscriber's bug is
the tracer's, and the others still run."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn.modules import module as module_hooks  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.runtime.checks import all_checks  # noqa: E402
from dllint.runtime.codes import RUNTIME_CODES  # noqa: E402
from dllint.runtime.dispatch import EVENTS, Check, Dispatcher, Subscriber, TraceContext  # noqa: E402
from dllint.runtime.instruments import Instruments, StopTracing  # noqa: E402
from test_runtime import EXPECTED  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"
# Judged after a distributed run from what every rank recorded (distributed/merge.py).
ACROSS_RANKS = {"RT011", "RT012", "RT013", "RT014", "RT015"}


def _fixtures(code: str) -> list[str]:
    folder = RUNTIME / "distributed" if code in ACROSS_RANKS else RUNTIME
    return sorted(path.name for path in folder.glob(f"{code.lower()}_*.py"))


def test_every_single_process_code_has_exactly_one_registered_check():
    registered = [check.code.code for check in all_checks()]
    assert sorted(registered) == sorted(set(RUNTIME_CODES) - ACROSS_RANKS)
    for check in all_checks():
        assert issubclass(check, Check) and RUNTIME_CODES[check.code.code] is check.code
        assert set(check.events) <= set(EVENTS)
        for event in check.events:
            assert getattr(check, event) is not getattr(Check, event, None), (check, event)


@pytest.mark.parametrize("code", sorted(RUNTIME_CODES))
def test_every_code_has_a_fixture_that_is_its_specification(code):
    if code == "RT010":  # every --overfit fixture gets a verdict (tests/test_overfit.py)
        assert list((RUNTIME / "overfit").glob("*.py"))
        return
    assert _fixtures(code), f"no fixtures/runtime/**/{code.lower()}_*.py"


def test_every_single_process_fixture_is_run_with_its_expected_finding():
    on_disk = {path.name for path in RUNTIME.glob("rt*.py")}
    assert on_disk == {name for name in EXPECTED if re.match(r"rt\d{3}_", name)}
    for name in on_disk:
        assert EXPECTED[name][0] == [name[:5].upper()]


class Recorder(Subscriber):
    """Records the events it subscribed to; any other event's method raises."""
    events = frozenset({"on_forward", "on_forward_output", "on_loss", "on_backward", "on_step",
                        "on_step_done", "on_end"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.seen: list[str] = []

    def on_forward(self, call):
        self.seen.append(f"forward {type(call.module).__name__}{' root' if call.root else ''}")

    def on_forward_output(self, call, output):
        self.seen.append(f"output {type(call.module).__name__}")

    def on_loss(self, call):
        self.seen.append(f"loss {call.name} training={call.training}")

    def on_backward(self, tensor):
        self.seen.append("backward")

    def on_step(self, step):
        self.seen.append(f"step {step.count}")

    def on_step_done(self, step):
        self.seen.append(f"step done {step.count}")

    def on_end(self):
        self.seen.append("end")

    def on_torch_call(self, call):  # not subscribed: must never be called
        raise AssertionError("an unsubscribed event reached its subscriber")

    on_step_limit = on_stop = before_loss = on_backward_done = on_torch_call


def _train(steps: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()


def test_events_reach_their_subscribers_in_order_and_no_others():
    context = TraceContext(steps=2, overfit=None)
    recorder = Recorder(context)
    dispatcher = Dispatcher(context, [recorder])
    with dispatcher, pytest.raises(StopTracing):
        _train(3)
    dispatcher.finish()
    dispatcher.finish()  # once
    forward = ["forward Sequential root", "forward Linear", "output Linear", "output Sequential"]
    first = [*forward, "loss cross_entropy training=True", "backward"]
    # Once every optimizer stepped, the function mode (which sees the losses) comes off.
    later = [*forward, "backward"]
    assert recorder.seen == [*first, "step 0", "step done 0", *later, "step 1", "step done 1",
                             *later, "end"]
    assert context.errors == []


def test_a_subscribers_bug_is_the_tracers_and_the_others_still_run():
    class Broken(Subscriber):
        events = frozenset({"on_backward"})

        def on_backward(self, tensor):
            raise RuntimeError("bug in a check")

    context = TraceContext(steps=1, overfit=None)
    recorder = Recorder(context)
    with Dispatcher(context, [Broken(context), recorder]), pytest.raises(StopTracing):
        _train(2)
    assert context.errors == ["RuntimeError: bug in a check"]
    assert recorder.seen.count("backward") == 2


def test_an_unknown_event_is_refused():
    class Misspelled(Subscriber):
        events = frozenset({"on_forwards"})

    with pytest.raises(ValueError, match="on_forwards"):
        Dispatcher(TraceContext(1, None), [Misspelled(TraceContext(1, None))])


def test_a_subscriber_attached_first_runs_first_and_a_detached_one_no_longer_runs():
    order = []

    class Named(Subscriber):
        events = frozenset({"on_step"})

        def __init__(self, context, name):
            super().__init__(context)
            self.name = name

        def on_step(self, step):
            order.append(self.name)

    context = TraceContext(steps=3, overfit=None)
    late, early = Named(context, "late"), Named(context, "early")
    dispatcher = Dispatcher(context, [late])
    dispatcher.attach(early, first=True)
    with dispatcher:
        _train(1)
        dispatcher.detach(early)
        _train(1)
    assert order == ["early", "late", "late"]


def test_the_dispatcher_leaves_no_hook_behind_not_even_the_keyword_mark():
    before = (dict(module_hooks._global_forward_hooks_with_kwargs),
              dict(module_hooks._global_forward_hooks), torch.Tensor.backward,
              torch.optim.Optimizer.__init__)
    with Instruments(steps=5):
        _train(1)
    assert (dict(module_hooks._global_forward_hooks_with_kwargs),
            dict(module_hooks._global_forward_hooks), torch.Tensor.backward,
            torch.optim.Optimizer.__init__) == before


def test_module_outputs_see_keyword_arguments():
    class Keywords(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, pixel_values=None):
            return self.linear(pixel_values)

    class Outputs(Subscriber):
        events = frozenset({"on_forward_output"})
        kwargs: list = []

        def on_forward_output(self, call, output):
            self.kwargs.append((type(call.module).__name__, sorted(call.kwargs)))

    context = TraceContext(steps=1, overfit=None)
    with Dispatcher(context, [Outputs(context)]):
        Keywords()(pixel_values=torch.randn(3, 4))
    assert Outputs.kwargs == [("Linear", []), ("Keywords", ["pixel_values"])]


class _QuietExchange:
    """No other rank: nobody asks this one to stop."""

    def stopped(self) -> bool:
        return False


def test_a_rank_companion_subscribes_through_the_dispatcher_and_patches_no_backward():
    from dllint.runtime.distributed.job import RankPlace
    from dllint.runtime.distributed.rank import RankCompanion

    class DistributedDataParallel(nn.Module):  # what the companion recognizes, by class name
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, inputs):
            return self.module(inputs)

    original_backward = torch.Tensor.backward
    instruments = Instruments(steps=3)
    place = RankPlace(0, 1, 0, "localhost", 0, "test", launched=True)
    companion = RankCompanion(instruments, place, _QuietExchange(), 60.0, None)
    waits_in_backward = []
    with companion:
        assert instruments.subscribers[0] is companion
        assert torch.Tensor.backward is original_backward  # the dispatcher's, not the companion's
        with instruments:
            model = DistributedDataParallel(nn.Linear(4, 2))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for _ in range(2):
                optimizer.zero_grad()
                loss = model(torch.randn(8, 4)).square().mean()
                loss.register_hook(lambda grad: waits_in_backward.append(
                    companion.waiting.what if companion.waiting else None))
                loss.backward()
                optimizer.step()
            assert companion.waiting is None
    assert companion not in instruments.subscribers and companion.left_clean
    assert torch.Tensor.backward is original_backward
    assert waits_in_backward == ["backward (DDP's gradient all-reduce)"] * 2
    assert list(companion.replica_values) == [id(optimizer)]
    assert len(companion.replica_values[id(optimizer)]) == 2
    assert instruments.errors == []
