"""Edges of the plugin as a user meets them: what a bless takes, request caps, loops left
early, and mistakes that only xdist would otherwise turn into crashes."""

from __future__ import annotations

import pytest


def test_a_failing_test_is_shown_but_never_blessed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenario="good")
        def test_good(ragcost):
            for q in ragcost.requests(["a b c", "d e"]):
                with ragcost.stage("s") as st:
                    st.tokens(context=q)

        @pytest.mark.ragcost(scenario="broken")
        def test_broken(ragcost):
            for q in ragcost.requests(["a b c", "d e"]):
                with ragcost.stage("s") as st:
                    st.tokens(context=q)
            assert False, "the pipeline answered wrongly"
        """
    )
    result = pytester.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1, failed=1)
    text = (pytester.path / "ragcost.yaml").read_text(encoding="utf-8")
    assert "  good:" in text
    assert "broken" not in text


def test_the_blessing_run_does_not_fail_on_old_baselines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenario="grown")
        def test_grown(ragcost):
            for q in ragcost.requests(["one two three four five six"]):
                with ragcost.stage("s") as st:
                    st.tokens(context=q)
        """
    )
    (pytester.path / "ragcost.yaml").write_text(
        "version: 1\nscenarios:\n  grown:\n    tokens_context: {baseline: 1}  # too low\n",
        encoding="utf-8",
    )
    pytester.runpytest("--ragcost").assert_outcomes(failed=1)
    pytester.runpytest("--ragcost", "--ragcost-update").assert_outcomes(passed=1)
    text = (pytester.path / "ragcost.yaml").read_text(encoding="utf-8")
    assert "tokens_context: {baseline: 6, n: 1}  # too low" in text
    pytester.runpytest("--ragcost").assert_outcomes(passed=1)


def test_the_request_cap_applies_without_metering_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        SEEN = []

        @pytest.mark.ragcost(scenario="capped", requests=50)
        def test_capped(ragcost):
            for q in ragcost.requests(range(100)):
                SEEN.append(q)
            assert len(SEEN) == 3, SEEN
        """
    )
    pytester.runpytest("--ragcost-requests=3").assert_outcomes(passed=1)


def test_breaking_out_of_the_loop_keeps_the_last_request(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenario="early-exit")
        def test_early(ragcost):
            for q in ragcost.requests(["a", "b", "c", "d"]):
                with ragcost.stage("s") as st:
                    st.tokens(context=q)
                if q == "b":
                    break
        """
    )
    pytester.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=1)
    import json

    doc = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    requests = doc["scenarios"][0]["requests"]
    assert len(requests) == 2
    assert all(r.get("error") is None for r in requests)


def test_under_xdist_a_bad_marker_fails_its_test_instead_of_crashing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenaro="typo")
        def test_x(ragcost):
            for q in ragcost.requests([1]):
                pass
        """
    )
    result = pytester.runpytest_subprocess("--ragcost", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "unknown argument 'scenaro'; valid arguments: scenario, requests, warmup, load" in out


def test_under_xdist_two_tests_claiming_one_scenario_fail_the_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenario="same")
        def test_a(ragcost):
            for q in ragcost.requests([1]):
                pass

        @pytest.mark.ragcost(scenario="same")
        def test_b(ragcost):
            for q in ragcost.requests([1]):
                pass
        """
    )
    result = pytester.runpytest_subprocess("--ragcost", "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*scenario 'same' is claimed by two tests*"])
    serial = pytester.runpytest("--ragcost")
    assert serial.ret == pytest.ExitCode.USAGE_ERROR
