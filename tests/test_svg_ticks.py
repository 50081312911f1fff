"""Axis ticks of the HTML report's charts: distinct labels, as many as fit."""

from __future__ import annotations

from pytest_ragcost.report.svg import fit_ticks, nice_ticks, text_width, tick_labels


def test_close_small_ticks_get_distinct_positional_labels() -> None:
    ticks = nice_ticks(0.00001, 0.000014, 8)
    labels = tick_labels(ticks)
    assert len(set(labels)) == len(labels)
    assert not any("e-" in lab for lab in labels)
    assert labels[0] == "0.00001"


def test_ticks_are_as_many_as_fit_without_touching() -> None:
    wide = fit_ticks(0, 12000, 600, text_width)
    narrow = fit_ticks(0, 12000, 150, text_width)
    assert len(wide) > len(narrow) >= 2
    for ticks, length in ((wide, 600), (narrow, 150)):
        room = length / (len(ticks) - 1)
        assert all(text_width(lab) + 8 <= room for lab in tick_labels(ticks))


def test_counts_agree_with_their_noun() -> None:
    from pytest_ragcost.report.fmt import count

    assert [count(n, "scenario") for n in (0, 1, 2)] == ["0 scenarios", "1 scenario",
                                                         "2 scenarios"]
    assert count(1, "entry", "entries") == "1 entry"
    assert count(3, "entry", "entries") == "3 entries"
