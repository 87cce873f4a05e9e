"""The CLI as a new user meets it: every subcommand's --help, and the key commands on an empty data directory,
a database without schema and an unreachable server — an exit code and one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from api.cli import app


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if hasattr(cmd, "commands"):
            out += _commands(cmd, (*prefix, name))
    return out


ALL = _commands(typer.main.get_command(app))


def test_the_command_tree_is_what_the_readme_lists():
    assert {"serve", "worker", "ingest", "suggest", "reconcile", "export-labels", "keys", "ledger", "db", "eval",
            "catalog"} <= {c[0] for c in ALL}
    assert len(ALL) >= 20


@pytest.mark.parametrize("command", ALL, ids=" ".join)
def test_every_subcommand_has_help(command):
    r = CliRunner().invoke(app, [*command, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output and "Traceback" not in r.output


def _run(tmp_path, *args, **env):
    e = {**os.environ, "CLAUSEWISE_DATA_DIR": str(tmp_path / "data"), "CLAUSEWISE_ENV": "test", **env}
    e.pop("CLAUSEWISE_DATABASE_URL", None) if "CLAUSEWISE_DATABASE_URL" not in env else None
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, timeout=180,
                          env=e, cwd=tmp_path)


def _one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("clausewise: created")]
    assert "Traceback" not in r.stderr and "╭" not in r.stderr, r.stderr
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_key_commands_on_an_empty_data_directory_migrate_or_say_what_is_wrong(tmp_path):
    made = _run(tmp_path, "keys", "create", "--tenant", "t", "--role", "admin")   # the first try
    assert made.returncode == 0 and made.stdout.startswith("cw_"), made.stderr
    assert "created the database" in made.stderr and "Traceback" not in made.stderr
    cases = [
        (("keys", "revoke", "no-such-key"), "key_not_found"),
        (("ledger", "verify", "--tenant", "nope"), "tenant_not_found"),
        (("export-labels", "--out", str(tmp_path / "x.jsonl"), "--tenant", "nope"), "tenant_not_found"),
        (("keys", "create", "--role", "wizard"), "role must be one of"),
    ]
    for args, expected in cases:
        r = _run(tmp_path, *args)
        assert r.returncode in (1, 2), (args, r.stderr)
        assert expected in _one_line(r), (args, r.stderr)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    down = _run(empty, "db", "downgrade", "base")
    assert down.returncode == 1 and "nothing to downgrade" in _one_line(down)
    assert not (empty / "data" / "clausewise.db").exists()


def test_a_configured_database_without_schema_or_unreachable_says_what_to_run(tmp_path):
    tmp_path.joinpath("data").mkdir()
    bare = _run(tmp_path, "keys", "create", "--role", "admin",
                CLAUSEWISE_DATABASE_URL=f"sqlite:///{tmp_path / 'server.db'}")
    assert bare.returncode == 1 and "run `clausewise db upgrade`" in _one_line(bare)
    down = _run(tmp_path, "ledger", "verify", CLAUSEWISE_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/x")
    line = _one_line(down)
    assert down.returncode == 1 and "could not be used" in line and "Connection refused" in line
    bad = _run(tmp_path, "ledger", "verify", CLAUSEWISE_PORT="not-a-port")
    assert bad.returncode == 2 and _one_line(bad).startswith("error: invalid settings: port")
    compare = _run(tmp_path, "eval", "compare", str(tmp_path / "data"), str(tmp_path / "data"))
    assert compare.returncode == 1 and "Is a directory" in _one_line(compare)
    broken = tmp_path / "run.json"
    broken.write_text("{not json")
    r = _run(tmp_path, "eval", "compare", str(broken), str(broken))
    assert r.returncode == 1 and "not valid JSON" in _one_line(r)
