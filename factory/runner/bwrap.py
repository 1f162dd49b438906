"""The bubblewrap command line: what generated (untrusted) code sees of the host.

Only what a build needs, read-only: the system's runtime, the few /etc files Python, SSL and localhost name
lookups read, the factory's Python (its base install, venv, site-packages and, for an editable install, its
package). Everything else (/root, /home, the user's caches, the machine key, a --sign-key file, the reply cache,
the output folder beside build/, other builds) is simply not there. The build folder is read-write; /tmp is
private; /dev and /proc are the sandbox's own.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

from factory.trust import key_dir

# Merged-/usr systems have these as symlinks into /usr: recreated as the same symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_ENTRIES = (
    "ld.so.cache",  # the dynamic loader's index of shared libraries
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",  # /usr/bin's alternatives (python3, ...) point here
    "passwd",  # user names for getpass/libpq; passwords live in shadow, which is not bound
    "group",
    "nsswitch.conf",
    "hosts",  # localhost
    "host.conf",
    "gai.conf",
    "services",
    "protocols",
    "localtime",
    "timezone",
    "ssl",  # CA certificates; private keys in /etc/ssl/private are hidden below
    "ca-certificates",
    "pki",
    "mime.types",
    "locale.alias",
)
HIDDEN_UNDER_ETC = ("ssl/private",)


def _system_binds() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC_ENTRIES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in HIDDEN_UNDER_ETC:
        if os.path.isdir(f"/etc/{name}"):
            args += ["--tmpfs", f"/etc/{name}"]
    return args


def python_paths() -> list[str]:
    """The folders the factory's interpreter and its packages live in (also where the private /tmp would hide
    them: a checkout or venv under /tmp is common, e.g. CI clones and pip's temporary builds)."""
    import factory

    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site.getsitepackages(),
        str(Path(sys.executable).resolve().parent),
        str(Path(factory.__file__).resolve().parent),  # an editable install imports it from the checkout
    }
    if site.ENABLE_USER_SITE and site.getusersitepackages():  # a `pip install --user` factory
        paths.add(site.getusersitepackages())
    resolved = {Path(path).resolve() for path in paths}
    # "/" would bind the whole host again: such an interpreter needs only what the system binds give.
    existing = [path for path in resolved if path.exists() and path != Path("/")]
    # A folder inside another bound one needs no bind of its own.
    return sorted(str(path) for path in existing if not any(path.is_relative_to(o) and path != o for o in existing))


def _hidden_secrets(bound: list[str]) -> list[str]:
    """The key that seals the factory's caches (factory/trust.py), when it lies inside a bound folder: an empty
    folder in its place."""
    try:
        folder = key_dir().resolve()
    except RuntimeError:  # no home folder: no key either
        return []
    inside = folder.is_dir() and any(folder.is_relative_to(path) for path in bound)
    return ["--tmpfs", str(folder)] if inside else []


def bwrap_argv(argv: list[str], build: str, binds: tuple[str, ...] = ()) -> list[str]:
    """argv run by bwrap in build (read-write), with binds (read-write folders, e.g. a database socket's)."""
    interpreter = python_paths()
    return [
        "bwrap",
        *_system_binds(),
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        *[part for path in interpreter for part in ("--ro-bind", path, path)],
        *_hidden_secrets([*interpreter, build]),
        "--bind",
        build,
        build,
        *[part for path in binds for part in ("--bind", path, path)],
        # The root bwrap built the binds in: nothing new may be written outside the build, even in the sandbox.
        "--remount-ro",
        "/",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        build,
        "--",
        *argv,
    ]
