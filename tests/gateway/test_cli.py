"""``hub gateway …`` commands against a real (SQLite) gateway database."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from tests.peers.county_system import COUNTIES
from tests.support.apps import migrate


def test_create_legacy_list_disable_and_verify(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", url)
    runner = CliRunner()
    args = ["--database-url", url]
    created = runner.invoke(
        app,
        [
            "clients",
            "create-legacy",
            "--name",
            "浈江区行政审批系统",
            "--org",
            COUNTIES[0].bureau_uscc,
            "--org",
            COUNTIES[1].bureau_uscc,
            *args,
        ],
    )
    assert created.exit_code == 0, created.output
    creds = json.loads(created.output)
    assert set(creds) == {"client_id", "app_key", "secret"} and len(creds["secret"]) >= 40
    listed = runner.invoke(app, ["clients", "list", *args])
    row = json.loads(listed.output.strip().splitlines()[0])
    assert row["app_key"] == creds["app_key"] and row["status"] == "active"
    assert row["orgs"] == [COUNTIES[0].bureau_uscc, COUNTIES[1].bureau_uscc]
    assert creds["secret"] not in listed.output
    assert runner.invoke(app, ["clients", "disable", creds["client_id"], *args]).exit_code == 0
    assert '"disabled"' in runner.invoke(app, ["clients", "list", *args]).output
    bad = runner.invoke(app, ["clients", "create-legacy", "--name", "x", "--org", "123", *args])
    assert bad.exit_code == 2
    verified = runner.invoke(app, ["exchange-log", "verify", *args])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_register_and_sources_show_which_sources_are_read(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    migrate("gateway", url)
    runner = CliRunner()
    args = ["--database-url", url]
    env = {
        "HUB_INTAKE_FILE_SOURCES": json.dumps(
            [
                {"client_id": "county-files", "directory": str(tmp_path / "a")},
                {"client_id": "nobody", "directory": str(tmp_path / "b")},
            ]
        )
    }
    registered = runner.invoke(
        app,
        [
            "clients",
            "register",
            "--client-id",
            "county-files",
            "--name",
            "武江区审批系统",
            "--org",
            COUNTIES[1].bureau_uscc,
            "--channel",
            "file",
            *args,
        ],
    )
    assert registered.exit_code == 0, registered.output
    shown = runner.invoke(app, ["sources", *args], env=env)
    rows = {r["client_id"]: r for r in map(json.loads, shown.output.strip().splitlines())}
    assert rows["county-files"]["status"] == "active"
    assert rows["nobody"]["status"] == "refused: client-not-registered"
    assert shown.exit_code == 1  # an operator's script notices a source that is not read
    again = runner.invoke(
        app,
        [
            *("clients", "register", "--client-id", "county-files", "--name", "x"),
            *("--org", COUNTIES[1].bureau_uscc, "--channel", "file", *args),
        ],
    )
    assert again.exit_code == 2 and "already registered" in again.output
