"""Real JavaScript clients from the npm registry against a started Patron (issue 11, item 6).

tests/js/*.test.mjs run under `node --test`: urql queries with fragments and variables, a
mutation's payload errors, multipart uploads (urql, and extract-files as
apollo-upload-client sends them) and the reference graphql-ws client receiving
pointsBalanceChanged. Their dependencies come from tests/js/package-lock.json (`npm ci`,
which `make test` runs). Without Node the test is skipped, except in CI (CI=true), where
that is a failure. It starts a process, so it runs once (in the SQLite pass)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import IS_POSTGRES
from tests.test_server_process import env_for, free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "js"
ADMIN_KEY = "js-clients-admin-key-0123456789"
JWT_SECRET = "js-clients-member-secret-of-32-bytes-or-more"
MIN_PASSING = 12  # the tests in tests/js today; a run that finds fewer lost some

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="process tests run in the SQLite pass")


def node_for(directory: Path) -> str:
    """node's path, with `directory`'s locked dependencies installed; else skip (fail in CI)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    problem = None
    if not node or not npm:
        problem = "node/npm not installed"
    elif not (directory / "node_modules" / ".package-lock.json").exists():
        problem = f"{directory.relative_to(ROOT)} dependencies not installed: run `make js-deps` (npm ci)"
    if problem is None:
        return node
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{problem}; CI must run the JavaScript tests")
    pytest.skip(problem)


@contextmanager
def running_patron(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """A real Patron on 127.0.0.1 with a fresh SQLite file, its output in a log file:
    (its GraphQL URL, the log's path)."""
    port = free_port()
    log = (tmp_path / "patron.log").open("w")
    env = env_for(tmp_path / "patron.sqlite3", PATRON_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY,
                  PATRON_MEMBER_JWT_SECRET=JWT_SECRET, PATRON_MEDIA_DIR=str(tmp_path / "media"),
                  PATRON_RATE_LIMIT_KEY="0", PATRON_RATE_LIMIT_MEMBER="0", PATRON_RATE_LIMIT_ANONYMOUS="0", **env)
    proc = subprocess.Popen([sys.executable, "server.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port)
        yield f"http://127.0.0.1:{port}/graphql", tmp_path / "patron.log"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def node() -> str:
    return node_for(JS)


@pytest.fixture
def patron(tmp_path):
    with running_patron(tmp_path) as started:
        yield started


def test_javascript_clients_pass_against_a_running_patron(node, patron):  # node first: skip before starting
    # Given Node with the locked client libraries, and a running Patron
    url, log = patron
    # When the JavaScript tests run against it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")} | {
        "PATRON_URL": url, "PATRON_ADMIN_KEY": ADMIN_KEY, "PATRON_MEMBER_JWT_SECRET": JWT_SECRET,
        "NO_COLOR": "1"}
    run = subprocess.run([node, "--test", "--test-reporter=spec"], cwd=JS, env=env,
                         capture_output=True, text=True, timeout=300)
    report = f"{run.stdout}\n{run.stderr}\n--- end of the Patron log ---\n{log.read_text()[-3000:]}"
    # Then every test passed, and none went missing
    assert run.returncode == 0, report
    counts = {name: int(n) for name, n in re.findall(r"^ℹ (pass|fail|cancelled) (\d+)$", run.stdout, re.M)}
    assert counts.get("fail") == 0 and counts.get("cancelled") == 0, report
    assert counts.get("pass", 0) >= MIN_PASSING, report
