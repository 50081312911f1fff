"""The recorder's seam for load drivers: a call's request on its own thread, closed or
abandoned, and its records handed back."""

from __future__ import annotations

import threading

from pytest_ragcost.meters.registry import build
from pytest_ragcost.record.recorder import Recorder


def _recorder() -> Recorder:
    meters = build(("process",), watts_per_thread=10.0, watts_source="default")
    return Recorder(scenario="seam", nodeid="t.py::t", metering=True, meters=meters)


def test_a_call_records_its_stages_on_its_own_thread() -> None:
    rec = _recorder()
    calls = rec.calls()
    records = []

    def worker() -> None:
        request = calls.open()
        with rec.stage("work") as st:
            st.count(items=2)
        rec.sample(question="q", answer="a")
        records.append(request.close())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    (record,) = records
    assert record is not None
    assert [s.name for s in record.stages] == ["work"]
    assert record.metrics["count_items"] == 2.0
    calls.adopt([record], {"requests": 1})
    run = rec.finish()
    assert [r.index for r in run.requests] == [0]
    assert run.load == {"requests": 1}
    assert run.samples[0].trace_id == record.trace_id


def test_an_abandoned_call_keeps_what_it_did_and_drops_the_rest() -> None:
    rec = _recorder()
    calls = rec.calls()
    opened = threading.Event()
    go_on = threading.Event()
    late: list[object] = []
    holder = []

    def worker() -> None:
        request = calls.open()
        holder.append(request)
        with rec.stage("first"):
            pass
        opened.set()
        go_on.wait(5)
        with rec.stage("late"):
            pass
        rec.sample(question="late")
        late.append(request.close())

    thread = threading.Thread(target=worker)
    thread.start()
    assert opened.wait(5)
    record = holder[0].abandon("TimeoutError: too slow")
    go_on.set()
    thread.join()
    assert record is not None
    assert record.error == "TimeoutError: too slow"
    assert record.metrics["errors"] == 1.0
    assert [s.name for s in record.stages] == ["first"]
    assert late == [None]  # closing after the abandon records nothing
    assert holder[0].abandon("again") is None
    assert rec.finish().samples == ()


def test_a_warm_up_call_records_nothing() -> None:
    rec = _recorder()
    calls = rec.calls()
    request = calls.open(warmup=True)
    with rec.stage("warm"):
        pass
    rec.sample(question="warm")
    assert request.close() is None
    run = rec.finish()
    assert run.requests == ()
    assert run.samples == ()
