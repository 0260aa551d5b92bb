"""Simulator of the provincial 实名核验 service (公安人口库 name + ID number check).

A real HTTP server (uvicorn in a thread) holding a table of name + 公民身份号码 pairs.
It speaks what the gateway adapter speaks: ``POST /rkk/v1/check`` with a JSON body and
``X-App-Key``/``X-Timestamp``/``X-Nonce``/``X-Signature`` (HMAC-SHA256 over the
canonical request); answers ``{"result": "1"}`` (一致) or ``{"result": "0"}`` (不一致).
"""

from __future__ import annotations

import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.runtime.crypto import verify_request_signature
from tests.peers.server import ThreadedServer

PATH = "/rkk/v1/check"


class ProvinceRealName:
    def __init__(self, app_key: str = "hub-app", app_secret: str = "province-secret") -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.people: dict[str, str] = {}
        self.calls = 0
        self._nonces: set[str] = set()
        self._http = ThreadedServer(self.app(), "province 实名核验 simulator")
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(PATH)
        async def check(request: Request) -> JSONResponse:
            self.calls += 1
            body = await request.body()
            h = request.headers
            fresh = abs(time.time() - int(h.get("x-timestamp", "0") or 0)) < 300
            nonce = h.get("x-nonce", "")
            if (
                h.get("x-app-key") != self.app_key
                or not fresh
                or nonce in self._nonces
                or not verify_request_signature(
                    self.app_secret.encode(),
                    "POST",
                    PATH,
                    h.get("x-timestamp", ""),
                    nonce,
                    body,
                    h.get("x-signature", ""),
                )
            ):
                return JSONResponse({"result": "-1", "message": "签名验证失败"}, status_code=401)
            self._nonces.add(nonce)
            data = json.loads(body)
            known = self.people.get(data.get("id_number", ""))
            ok = known is not None and known == data.get("name")
            return JSONResponse(
                {"result": "1" if ok else "0", "message": "一致" if ok else "不一致"}
            )

        return app

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()
