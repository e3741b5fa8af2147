"""Dates and times as stock lists need them: compact, unambiguous and sortable (UTC, 24 h),
on one line in a dense table ("2026-11-29 17:05", not "Nov. 29, 2026, 5:05 p.m.")."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i"
