"""No full 公民身份号码 or mobile number may appear in anything the hub logged during the
suite: in-process log output (checked after every test) and the logs of the real
processes tests start (checked at the end of the session)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.masking import mask_text

_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


class _Tee(io.TextIOBase):
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.buffer_text = io.StringIO()

    def write(self, s: str) -> int:
        self.buffer_text.write(s)
        return self.inner.write(s)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self.inner.flush()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_pii_in_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    # Handlers made before this test (module-scoped apps) are teed; those made during the
    # test write to the captured stderr.
    tees: list[tuple[logging.StreamHandler, _Tee, object]] = []  # type: ignore[type-arg]
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and not getattr(handler.stream, "closed", True):
            tee = _Tee(handler.stream)
            tees.append((handler, tee, handler.setStream(tee)))  # type: ignore[arg-type]
    yield
    text = "".join(tee.buffer_text.getvalue() for _, tee, _ in tees)
    for handler, _, old in tees:
        handler.setStream(old)  # type: ignore[arg-type]
    out, err = capfd.readouterr()
    text += out + err
    leaked = _ID.findall(text)
    assert not leaked, f"full ID numbers in log output: {len(leaked)}"
    assert mask_text(text) == text, "unmasked PII (ID or mobile number) in log output"


def assert_no_pii_in_files(directory: Path) -> None:
    leaks = []
    for path in sorted(directory.glob("*.log")):
        text = path.read_text(errors="replace")
        if _ID.search(text) or mask_text(text) != text:
            leaks.append(path.name)
    assert not leaks, f"unmasked ID or mobile numbers in process logs: {leaks}"
