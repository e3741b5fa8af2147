"""Structured logs: one JSON object per line, carrying the request id (and the Celery task id
inside a task), so one request can be followed from the web process into its tasks."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from celery import current_task as _current_task

from apps.observability.context import get_request_id

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "task_id", "task_name"}
)


def current_task():
    """The Celery task executing in this thread, if any."""
    task = _current_task._get_current_object()
    if task is None or task.request.id is None:
        return None
    return task


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (None outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = get_request_id()
        task = current_task()
        if task is not None and not hasattr(record, "task_id"):
            record.task_id = task.request.id
            record.task_name = task.name
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or get_request_id(),
        }
        for name in ("task_id", "task_name"):
            if getattr(record, name, None):
                entry[name] = getattr(record, name)
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
