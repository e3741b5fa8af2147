"""HTTP under ASGI through Django's synchronous handler, entered once per request.

Django's own `ASGIHandler` runs our (synchronous) views and the `MiddlewareMixin` middleware in
async mode: every middleware hook, the view, the `request_started` signal and `response.close()`
each hop from the event loop to a worker thread and back, and every request gets a new thread
(`ThreadSensitiveContext`). Profiled under load, that hopping took most of a worker's CPU and a
cached availability read cost about 8 ms.

`SyncASGIHandler` keeps Django's request parsing and response sending, but loads the middleware
in synchronous mode and runs the whole request (signals, middleware, view, rendering, close) in
one call on a small, long-lived thread pool. Only reading the body and writing the response stay
on the event loop. Websockets are untouched (Channels, see `asgi.py`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.urls import set_script_prefix


class SyncASGIHandler(ASGIHandler):
    """An ASGI application serving HTTP with Django's synchronous middleware chain."""

    def __init__(self, threads: int | None = None) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        # Database connections are per thread: each pool thread holds at most one (borrowed
        # from the connection pool for the length of a request).
        self.threads = threads or settings.STOCKROOM_HTTP_THREADS
        self.executor = ThreadPoolExecutor(self.threads, thread_name_prefix="http")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"SyncASGIHandler serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()

        def send_from_thread(message: dict) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        try:
            response = await sync_to_async(
                self.respond, thread_sensitive=False, executor=self.executor
            )(scope, body_file, send_from_thread)
            if response is not None:
                try:
                    await self.send_response(response, send)
                finally:
                    if response.streaming:  # an async stream, closed once sent
                        await sync_to_async(
                            response.close, thread_sensitive=False, executor=self.executor
                        )()
        finally:
            body_file.close()

    def respond(self, scope, body_file, send_from_thread) -> HttpResponseBase | None:
        """The whole request on one thread. A buffered response is closed here (which sends
        `request_finished`, giving the database connection back) and returned for the event
        loop to send. A synchronous stream is sent from this thread, a part at a time, and
        closed after its last part (Django's own handler reads it all into memory first, and
        the stream may need this thread's database connection)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = error_response if request is None else self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
            return response
        if response.is_async:
            return response  # an async stream: the event loop sends it
        try:
            self.send_stream(response, send_from_thread)
        finally:
            response.close()
        return None

    def send_stream(self, response: StreamingHttpResponse, send_from_thread) -> None:
        headers = [
            (str(name).encode("ascii"), str(value).encode("latin1"))
            for name, value in response.items()
        ]
        headers += [
            (b"Set-Cookie", cookie.output(header="").encode("ascii").strip())
            for cookie in response.cookies.values()
        ]
        send_from_thread(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        for part in response.streaming_content:
            for chunk, _ in self.chunk_bytes(part):
                send_from_thread({"type": "http.response.body", "body": chunk, "more_body": True})
        send_from_thread({"type": "http.response.body"})
