import re

from apps.reports import charts


def test_bar_heights_are_proportional_and_labels_escaped():
    svg = charts.bar_chart(["a", "b", "<c>"], [("Units in", "sr-in", [0, 5, 10])], "Moves")
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"', svg)]
    full = charts.HEIGHT - charts.PAD_BOTTOM - charts.PAD_TOP
    assert heights == [0.0, full / 2, full]
    assert "&lt;c&gt;" in svg
    assert "<c>" not in svg


def test_line_chart_marks_every_point_and_handles_no_data():
    svg = charts.line_chart(["1 Nov"], [42], "On hand", "sr-line")
    assert svg.count("<circle") == 1
    assert "1 Nov: 42" in svg
    assert "No snapshots" in charts.line_chart([], [], "On hand", "sr-line")
