"""A peer simulator's HTTP server: a real uvicorn server on a free port, in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from hub.broker import free_port


class ThreadedServer:
    """Serves an ASGI app on 127.0.0.1; ``start``/``stop`` or use as a context manager."""

    def __init__(self, app: Any, name: str = "simulator") -> None:
        self.app = app
        self.name = name
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
