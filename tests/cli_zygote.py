"""Run `python -m factory.cli ARGS` for a test without paying Python's start and the libraries' imports each time.

The suite runs lai-pack ~200 times and is CPU-bound on 2 cores; each run spent 0.3-0.5 s of CPU importing the
same libraries (pydantic, jsonschema, the OpenAPI validator, docker, doit; the anthropic SDK in LLM mode: ~1.2 s).
A zygote process imports them once; each run is a fork of it that takes the test's argv, environment, working
folder and standard streams, then runs factory.cli as `python -m` does. lai-pack's own modules are imported
fresh in every run (none is imported by the zygote), so what a run does depends on its environment as in a new
process.

What a fork cannot give, a test gets from a real process (`run_cli(..., fresh=True)` or `subprocess`):
- which modules a command loads (the zygote has the libraries loaded already);
- hash randomisation (every fork has the zygote's seed: a reproducibility test compares two real processes);
- interpreter start-up settings: a run whose PYTHON*, LANG or LC_* variables differ from the zygote's gets a real
  process automatically (they decide sys.path, bytecode, I/O encodings and the hash seed at start-up).
"""

from __future__ import annotations

import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Imported by the zygote before it forks: third-party libraries only, none of which reads the environment or
# the working folder when imported (they read them when called, in the fork, with the run's values).
PRELOADED = (
    "anthropic",
    "diskcache",
    "docker",
    "doit.cmd_run",
    "jsonschema",
    "openapi_spec_validator",
    "pydantic",
    "pydantic_settings",
    "requests",
)
STARTUP_PREFIXES = ("PYTHON", "LC_")
STARTUP_NAMES = ("LANG",)


def startup_environment(env: dict[str, str]) -> dict[str, str]:
    """The variables the interpreter reads when it starts (a fork keeps the zygote's start-up)."""
    return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES) or k in STARTUP_NAMES}


# --- the zygote's side (this file run as a script) ------------------------------------------------------------


def _run_in_fork(request: dict, fds: list[int]) -> None:
    """In the forked child: become `python -m factory.cli ARGV` in the request's folder, environment and streams."""
    import runpy

    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # Encoded as the interpreter set up the zygote's own: the same start-up settings give a new process the same
    # (under a C or C.UTF-8 locale, stdin and stdout use surrogateescape: bytes that are not UTF-8 pass through).
    stdin, stdout, stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
    sys.stdin = open(0, encoding=stdin.encoding, errors=stdin.errors, closefd=False)  # noqa: SIM115 - own streams
    sys.stdout = open(1, "w", encoding=stdout.encoding, errors=stdout.errors, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding=stderr.encoding, errors=stderr.errors, closefd=False, buffering=1)  # noqa: SIM115
    # The zygote's own would keep what is written through them (rules/reporter.py writes to sys.__stdout__).
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = [request["argv0"], *request["args"]]
    sys.path[0] = os.getcwd()  # as `python -m` puts it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    try:
        runpy.run_module("factory.cli", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:  # noqa: BLE001 - as the interpreter does: print it and exit 1
        sys.excepthook(*sys.exc_info())
        code = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as the interpreter does when it cannot flush stdout at exit
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _serve_one(connection: socket.socket) -> None:
    """In a forked handler: read the request, fork the run, tell its pid, wait, tell how it ended."""
    message, fds, _flags, _address = socket.recv_fds(connection, 1 << 16, 3)
    parts = [message]  # a large request (a big environment) comes in several reads: it ends at end of stream
    while part := connection.recv(1 << 16):
        parts.append(part)
    request = json.loads(b"".join(parts))
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run_in_fork(request, fds)
    for fd in fds:
        os.close(fd)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    connection.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def serve(path: str) -> None:
    parent = os.getppid()
    for name in PRELOADED:
        __import__(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(1.0)
    print("ready", flush=True)
    while os.getppid() == parent:  # until the test worker that started it is gone
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        if os.fork() == 0:
            listener.close()
            try:
                _serve_one(connection)
            finally:
                os._exit(0)
        connection.close()
    # The worker is gone without stopping it (killed, or it crashed): leave nothing in the temporary folder.
    os.unlink(path)
    os.rmdir(os.path.dirname(path))


# --- the test's side --------------------------------------------------------------------------------------------


class Zygote:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="lai-cli-zygote-")
        self.path = os.path.join(self.folder, "socket")
        self.startup = startup_environment(dict(os.environ))
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the lai-pack zygote did not start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        Path(self.path).unlink(missing_ok=True)
        os.rmdir(self.folder)

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        """As subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)."""
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        assert argv[1:3] == ["-m", "factory.cli"], argv
        request = {"argv0": argv[0], "args": argv[3:], "env": env, "cwd": str(cwd)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.path)
            message = json.dumps(request).encode()
            sent = socket.send_fds(connection, [message], [0, out_write, err_write])
            connection.sendall(message[sent:])
            connection.shutdown(socket.SHUT_WR)
            os.close(out_write)
            os.close(err_write)
            replies = connection.makefile("rb")
            pid = json.loads(replies.readline())["pid"]
            stdout, stderr = _read_both(out_read, err_read, pid, timeout, argv)
            line = replies.readline()
        if not line:
            raise RuntimeError(f"the lai-pack zygote lost the run of {argv}")
        returncode = json.loads(line)["returncode"]
        return subprocess.CompletedProcess(argv, returncode, _text(stdout), _text(stderr))


def _text(data: bytes) -> str:
    """As subprocess's text mode decodes: the locale's encoding (strict), universal newlines."""
    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


def _read_both(out_fd: int, err_fd: int, pid: int, timeout: float, argv: list[str]) -> tuple[bytes, bytes]:
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                for fd in chunks:
                    os.close(fd)
                raise subprocess.TimeoutExpired(argv, timeout)
            for key, _ in selector.select(left):
                data = os.read(key.fd, 1 << 16)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


_zygote: Zygote | None = None
_unavailable = False
_lock = threading.Lock()


def zygote_for(env: dict[str, str]) -> Zygote | None:
    """This worker's zygote, when a fork of it starts up as a new process with this environment would."""
    global _zygote, _unavailable
    with _lock:
        if _unavailable:
            return None
        if _zygote is None or not _zygote.alive():
            try:
                _zygote = Zygote()
            except (OSError, RuntimeError) as error:  # e.g. a TMPDIR too long for a socket's path: new processes
                _unavailable = True
                print(f"tests: lai-pack runs in new processes (the zygote did not start: {error})", file=sys.stderr)
                return None
        return _zygote if startup_environment(env) == _zygote.startup else None


def stop() -> None:
    if _zygote is not None:
        _zygote.stop()


if __name__ == "__main__":
    serve(sys.argv[1])
