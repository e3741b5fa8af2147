"""Carry the request id from the code that publishes a task into the task's execution.

`before_task_publish` copies the current id into the message headers; `task_prerun` puts it
back in the context of the worker thread and `task_postrun` clears it, so every log line a task
writes names the request that caused it.
"""

from __future__ import annotations

from contextvars import Token
from typing import Any

from celery import signals

from apps.observability.context import get_request_id, reset_request_id, set_request_id

HEADER = "stockroom_request_id"
_tokens: dict[str, Token] = {}


def on_before_task_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = get_request_id()
    if headers is not None and request_id and HEADER not in headers:
        headers[HEADER] = request_id


def on_task_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request_id = getattr(task.request, HEADER, None) if task is not None else None
    if request_id is None and task is not None:
        request_id = (task.request.headers or {}).get(HEADER)
    if task_id is not None:
        # Eager tasks run inside the caller's context and keep its id.
        _tokens[task_id] = set_request_id(request_id or get_request_id() or f"task-{task_id}")


def on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    token = _tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        try:
            reset_request_id(token)
        except ValueError:  # a token from another context (eager task in another thread)
            set_request_id(None)


def connect() -> None:
    signals.before_task_publish.connect(on_before_task_publish, weak=False, dispatch_uid=HEADER)
    signals.task_prerun.connect(on_task_prerun, weak=False, dispatch_uid=HEADER)
    signals.task_postrun.connect(on_task_postrun, weak=False, dispatch_uid=HEADER)
