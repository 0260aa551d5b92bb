"""Simulator of the provincial 实名核验 services: 人口库 (person check) and 法人库
(legal-person check).

A real HTTP server (uvicorn in a thread). Both endpoints take a JSON body signed with
``X-App-Key``/``X-Timestamp``/``X-Nonce``/``X-Signature`` (HMAC-SHA256 over the canonical
request, ``services.runtime.crypto.sign_request``; timestamps older than 300 s and replayed
nonces are refused with 401 ``{"result": "-1"}``), and answer ``{"result": "1"}`` (一致)
or ``{"result": "0"}`` (不一致):

- ``POST /rkk/v1/check`` ``{"name", "id_number"}``: the pair is in ``people``
  (公民身份号码 → name);
- ``POST /lpk/v1/check`` ``{"uscc", "name", "legal_rep_name", "legal_rep_id_number"}``:
  ``companies`` (USCC → :class:`Company`) holds the USCC with exactly this name, and its
  法定代表人 has this name and 公民身份号码.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.runtime.crypto import verify_request_signature
from tests.peers.server import ThreadedServer

PATH = "/rkk/v1/check"
LEGAL_PATH = "/lpk/v1/check"


@dataclass(frozen=True)
class Company:
    """One entry of the legal-person base."""

    name: str
    representative_name: str
    representative_id_number: str


class ProvinceRealName:
    def __init__(self, app_key: str = "hub-app", app_secret: str = "province-secret") -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.people: dict[str, str] = {}
        self.companies: dict[str, Company] = {}
        self.calls = 0
        self.legal_calls = 0
        self._nonces: set[str] = set()
        self._http = ThreadedServer(self.app(), "province 实名核验 simulator")
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    @property
    def legal_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{LEGAL_PATH}"

    async def _signed_body(self, request: Request, path: str) -> dict[str, Any] | None:
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
                path,
                h.get("x-timestamp", ""),
                nonce,
                body,
                h.get("x-signature", ""),
            )
        ):
            return None
        self._nonces.add(nonce)
        return dict(json.loads(body))

    @staticmethod
    def _answer(ok: bool | None) -> JSONResponse:
        if ok is None:
            return JSONResponse({"result": "-1", "message": "签名验证失败"}, status_code=401)
        return JSONResponse({"result": "1" if ok else "0", "message": "一致" if ok else "不一致"})

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(PATH)
        async def check(request: Request) -> JSONResponse:
            self.calls += 1
            data = await self._signed_body(request, PATH)
            if data is None:
                return self._answer(None)
            known = self.people.get(data.get("id_number", ""))
            return self._answer(known is not None and known == data.get("name"))

        @app.post(LEGAL_PATH)
        async def check_legal(request: Request) -> JSONResponse:
            self.legal_calls += 1
            data = await self._signed_body(request, LEGAL_PATH)
            if data is None:
                return self._answer(None)
            company = self.companies.get(data.get("uscc", ""))
            return self._answer(
                company is not None
                and company.name == data.get("name")
                and company.representative_name == data.get("legal_rep_name")
                and company.representative_id_number == data.get("legal_rep_id_number")
            )

        return app

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()
