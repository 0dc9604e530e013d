"""Refuse to run a stage outside the pinned environment: a supported Python, and the packages
that decide the output bytes at exactly the versions ``requirements.lock`` pins.

    $ python3 -m pipeline pickle         # what dvc.yaml runs; this check comes first
    pickle: error: wrong environment for this stage: numpy 1.26.4 is installed, requirements.lock pins 2.3.5; ...

Standard library only, and free of syntax newer than Python 3.6, so that an old Python or a
missing NumPy gets this one message rather than a traceback. ``requirements.lock`` is uv's
universal lock: a package may be pinned once per environment marker (``; python_version <
'3.12'``), and the entry whose marker holds for this interpreter is the pin. Its first line,
written by ``make lock``, names the Pythons the pins were resolved for (``requires-python``).
Only stages are checked: ``from pipeline import load`` works in any environment.
"""

import os
import platform
import re
import sys
from pathlib import Path

from pipeline.core.errors import EnvironmentMismatch

REQUIREMENTS_FILE = Path(__file__).resolve().parents[2] / "requirements.lock"
# The packages whose versions decide the bytes of some output (array layout and pickling,
# the random stream, the benchmark's training, the report and figure files, params parsing).
# Extend here when a stage starts depending on another one (say pyarrow for parquet files).
DECISIVE = (
    "numpy",
    "scipy",
    "scikit-learn",
    "threadpoolctl",
    "pandas",
    "pandera",
    "matplotlib",
    "pyyaml",
    # the Parquet footer names the version that wrote it
    "pyarrow",
)
FIX = (
    "run `make repro` (it installs the pins into .venv and runs dvc with them), "
    "or `. .venv/bin/activate` before running dvc or a stage by hand"
)

# Set for the one Python a command hands itself over to (:func:`project_python`), so that it never
# hands over again: a .venv that is itself not the pinned environment is refused.
HANDED_OVER = "TINYDIGITS_HANDED_OVER"

_REQUIRES = re.compile(r"^#\s*requires-python:\s*(\S+)", re.M)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)[ \t]*(?:;([^\\\n]*))?", re.M)
_TOKEN = re.compile(
    r"\s*(\(|\)|===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b|and\b|or\b|'[^']*'|\"[^\"]*\"|[A-Za-z_.]+)"
)


def canonical(name):
    """PEP 503 name: ``PyYAML`` and ``scikit_learn`` -> ``pyyaml``, ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_environment():
    """PEP 508 marker variables for this interpreter."""
    return {
        "python_version": "%d.%d" % sys.version_info[:2],
        "python_full_version": platform.python_version(),
        "implementation_name": sys.implementation.name,
        "platform_python_implementation": platform.python_implementation(),
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "os_name": os.name,
        "extra": "",
    }


def _version(text):
    parts = re.match(r"\d+(\.\d+)*", text)
    return tuple(int(p) for p in parts.group(0).split(".")) if parts else None


def _compare(left, op, right):
    if op in ("in", "not in"):
        return (left in right) == (op == "in")
    a, b = _version(left), _version(right)
    if a is None or b is None or op in ("===",):
        a, b = left, right
    else:
        # versions: compare as equal-length tuples, so 3.12 == 3.12.0
        width, release = max(len(a), len(b)), len(b)
        a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
        # compatible release: ~= 3.11.2 is >= 3.11.2 and == 3.11.*
        if op == "~=":
            keep = max(release - 1, 1)
            return a >= b and a[:keep] == b[:keep]
    if op == "~=":
        return a >= b
    return {
        "==": a == b,
        "===": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def evaluate(marker, env):
    """Whether a PEP 508 environment marker (``python_version < '3.12' and sys_platform == 'linux'``) holds."""
    tokens = [t.strip() for t in _TOKEN.findall(marker)]
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", marker):
        raise EnvironmentMismatch("requirements.lock: cannot read the marker %r" % marker)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else None

    def take():
        pos[0] += 1
        return tokens[pos[0] - 1]

    def value():
        token = take()
        if token[0] in "'\"":
            return token[1:-1]
        if token not in env:
            raise EnvironmentMismatch(
                "requirements.lock: unknown marker variable %r in %r" % (token, marker)
            )
        return env[token]

    def atom():
        if peek() == "(":
            take()
            result = either()
            take()
            return result
        left, op, right = value(), re.sub(r"\s+", " ", take()), value()
        return _compare(left, op, right)

    def both():
        result = atom()
        while peek() == "and":
            take()
            result = atom() and result
        return result

    def either():
        result = both()
        while peek() == "or":
            take()
            result = both() or result
        return result

    return either()


def read_lock(text, env):
    """``(requires-python or None, {canonical name: pinned version})`` for the pins whose marker holds."""
    requires = _REQUIRES.search(text)
    pins = {}
    for name, version, marker in _PIN.findall(text):
        if not marker.strip() or evaluate(marker, env):
            pins[canonical(name)] = version
    return (requires.group(1) if requires else None), pins


def lock_names(text):
    """The canonical name of every package the lock pins, whatever its marker."""
    return {canonical(name) for name, _, _ in _PIN.findall(text)}


def python_supported(requires, version):
    """Whether ``version`` (e.g. ``'3.12.1'``) satisfies a ``requires-python`` such as ``>=3.11,<3.14``."""
    for clause in requires.split(","):
        op, bound = re.match(r"\s*(===|==|!=|<=|>=|~=|<|>)\s*(\S+)", clause).groups()
        if not _compare(version, op, bound):
            return False
    return True


def installed_versions(names):
    """``{name: version or None}``: what this interpreter would import, first match on ``sys.path``.

    One directory listing per ``sys.path`` entry (``<name>-<version>.dist-info`` folders);
    importlib.metadata, which opens each distribution's metadata, only for what that misses.
    """
    wanted = {canonical(n): n for n in names}
    found = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            if item.endswith(".dist-info"):
                name, _, version = item[: -len(".dist-info")].partition("-")
                key = canonical(name)
                if key in wanted and wanted[key] not in found:
                    found[wanted[key]] = version
    for name in names:
        if name not in found:
            # 3.8+; older Pythons are refused before this
            from importlib import metadata

            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = None
    return found


def problems(
    lock_text,
    env,
    python_version,
    installed=installed_versions,
    decisive=DECISIVE,
    lock_name="requirements.lock",
):
    """What keeps this environment from being the pinned one (an empty list when it is): the
    packages ``decisive`` names (every pin: ``read_lock(...)[1]``), and the Python."""
    requires, pins = read_lock(lock_text, env)
    if requires and not python_supported(requires, python_version):
        return [
            "Python %s is not supported: %s is resolved for requires-python %s"
            % (python_version, lock_name, requires)
        ]
    found = []
    versions = installed(decisive)
    for name in decisive:
        pinned = pins.get(canonical(name))
        if pinned is None:
            found.append("%s pins no version of %s" % (lock_name, name))
            continue
        version = versions[name]
        if version is None:
            found.append("%s is not installed (%s pins %s)" % (name, lock_name, pinned))
        elif version != pinned:
            found.append("%s %s is installed, %s pins %s" % (name, version, lock_name, pinned))
    return found


def check(lock_file=REQUIREMENTS_FILE):
    """Raise :class:`EnvironmentMismatch` with one message unless this is the pinned environment."""
    try:
        text = Path(lock_file).read_text(encoding="utf-8")
    except OSError as err:
        raise EnvironmentMismatch(
            "cannot read %s (%s); the stages run only in the repository" % (lock_file, err)
        ) from None
    # no importlib.metadata; the lock refuses it anyway
    if sys.version_info < (3, 8):
        found = [
            "Python %s is not supported: requirements.lock is resolved for %s"
            % (platform.python_version(), (_REQUIRES.search(text) or [None, "newer Pythons"])[1])
        ]
    else:
        found = problems(text, marker_environment(), platform.python_version())
    if found:
        raise EnvironmentMismatch(
            "wrong environment for this stage: %s; interpreter %s (Python %s). Fix: %s. "
            "Nothing was written."
            % ("; ".join(found), sys.executable, platform.python_version(), FIX)
        )


def project_python(prefix=None):
    """This project's ``.venv/bin/python``, for a command that another interpreter started, or None
    when there is no such file or this process runs in that environment already (``prefix``:
    ``sys.prefix``). ``.venv/bin/dvc repro`` with ``.venv`` not activated runs the stages with
    whatever ``python3`` comes first on PATH (the shell DVC starts them in has the caller's PATH);
    the stage hands itself over to ``.venv``'s Python instead of refusing."""
    venv = REQUIREMENTS_FILE.parent / ".venv"
    python = venv / "bin" / "python"
    try:
        if not python.is_file() or Path(prefix or sys.prefix).resolve() == venv.resolve():
            return None
    except OSError:
        return None
    return python


def hand_over(python, argv):
    """Replace this process with ``python -m pipeline *argv`` (see :func:`project_python`); returns
    only if that cannot be started, with the reason."""
    os.environ[HANDED_OVER] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(str(python), [str(python), "-m", "pipeline"] + list(argv))
    except OSError as err:
        del os.environ[HANDED_OVER]
        return err.strerror or str(err)
