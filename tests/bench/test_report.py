"""The benchmark table's verdicts: where a target of the issue is missed, by how much."""

from bench.report import merge, verdict


def test_a_missed_target_says_by_how_much():
    row = {"figure": 812.0, "ratio": 0.5, "p99_ms": 212.0}
    state, missed = verdict("hot", row)
    assert state == "MISSED"
    assert missed == ["812/s vs >= 1,000 (-19%)", "p99 212 ms vs <= 150 (+41%)"]
    assert verdict("hot", {"figure": 1200.0, "ratio": 0.4, "p99_ms": 90.0}) == ("met", [])


def test_flash_is_missed_when_one_run_was_not_exact():
    row = {"exact": False, "errors": 0, "figure": 1.2, "p99_ms": 30.0}
    assert verdict("flash", row) == ("MISSED", ["exactly the units reserved: no"])


def test_runs_merge_into_medians_but_the_worst_run_for_errors_and_exactness():
    runs = [
        {"figure": 1.0, "unit": "s", "exact": True, "errors": 0, "ratio": None},
        {"figure": 3.0, "unit": "s", "exact": False, "errors": 2, "ratio": None},
        {"figure": 2.0, "unit": "s", "exact": True, "errors": 0, "ratio": None},
    ]
    assert merge(runs) == {"figure": 2.0, "unit": "s", "exact": False, "errors": 2, "ratio": None}
