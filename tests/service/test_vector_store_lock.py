"""One owner per embedded Chroma directory (core/vectors.py): others reach it through the owner's server, or are
told who holds it; a dead owner's lock and address do not outlive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.errors import ClausewiseError
from core.vectors import open_vector_store, server_file

HOLDER = """
import sys, time
from core.vectors import VectorStore, server_file
store = VectorStore(sys.argv[1])
if len(sys.argv) > 2:  # publish an address, as `clausewise serve` does for the server it runs
    server_file(sys.argv[1]).write_text('{"url": "%s", "pid": %d}' % (sys.argv[2], __import__("os").getpid()))
print("holding", flush=True)
time.sleep(600)
"""


def hold(directory, url=None):
    args = [sys.executable, "-c", HOLDER, str(directory)] + ([url] if url else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env={**os.environ})
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_held_directory_is_refused_with_its_holder(tmp_path):
    directory = tmp_path / "chroma"
    proc = hold(directory)
    try:
        with pytest.raises(ClausewiseError) as e:
            open_vector_store(str(directory))
        assert e.value.code.value == "vector_store_busy" and f"pid {proc.pid}" in e.value.detail
    finally:
        proc.kill()
        proc.wait()


def test_the_holders_published_server_is_used_and_a_stale_address_is_not(tmp_path, chroma_server):
    directory = tmp_path / "chroma"
    proc = hold(directory, chroma_server)
    try:
        store = open_vector_store(str(directory))
        assert not store.embedded and store.url == chroma_server and store.heartbeat()
        # an address another process left behind (not the lock holder's) is not trusted
        server_file(directory).write_text(json.dumps({"url": chroma_server, "pid": proc.pid + 100000}))
        with pytest.raises(ClausewiseError):
            open_vector_store(str(directory))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the holder died: the kernel dropped its lock; the next opener owns the directory and drops the stale address
    deadline = time.time() + 10
    while True:
        try:
            store = open_vector_store(str(directory))
            break
        except ClausewiseError:
            assert time.time() < deadline
            time.sleep(0.1)
    assert store.embedded and not server_file(directory).exists()
    store.close()
