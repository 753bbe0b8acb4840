"""A commit of whole files onto a new branch, with git plumbing: the work tree and the index stay as they are.

The desk may run in a clone where someone has staged or edited files; a temporary index
(`GIT_INDEX_FILE`) starts from HEAD, takes the new blobs, and becomes a tree and a commit, and only the
new branch's ref is written (https://git-scm.com/book/en/v2/Git-Internals-Git-Objects).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path


class ExportError(RuntimeError):
    """The change could not be committed onto a new branch; the message says why."""


def commit_files(root: Path, files: dict[Path, tuple[str, str]], branch: str, message: str) -> str:
    """Commit each file's new text onto `branch`, new, from HEAD; the commit's sha.

    Each file must be, at HEAD, the old text the change was planned on ("" for a new file), or the
    commit would carry edits nobody reviewed.
    """
    if not files:
        raise ExportError("nothing to commit")
    if not _git_ok(root, "check-ref-format", "--branch", branch):
        raise ExportError(f"{branch!r} is not a valid branch name")
    if _git_ok(root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"):
        raise ExportError(f"branch {branch} already exists")
    top = Path(_git_text(root, "rev-parse", "--show-toplevel")).resolve()
    head = _git_text(root, "rev-parse", "--verify", "HEAD^{commit}")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(root, "read-tree", head, env=env)
        for path, (old, new) in sorted(files.items()):
            rel = path.resolve().relative_to(top).as_posix()
            mode = _check_head(root, head, rel, old)
            blob = _git_text(root, "hash-object", "-w", "--stdin", stdin=new.encode("utf-8"))
            _git(root, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}", env=env)
        tree = _git_text(root, "write-tree", env=env)
    commit = _git_text(root, "commit-tree", tree, "-p", head, "-m", message)
    _git(root, "update-ref", "-m", f"nlu_data: {message}", f"refs/heads/{branch}", commit, "")
    return commit


def _check_head(root: Path, head: str, rel: str, old: str) -> str:
    """The file's mode at HEAD (100644 if new), once its content there is the planned old text."""
    listed = _git_text(root, "ls-tree", "-z", head, "--", rel).rstrip("\0")
    if not listed:
        if old:
            raise ExportError(f"{rel} is not in HEAD: commit it first")
        return "100644"
    mode, _, blob = listed.split("\t")[0].split(" ")
    if _git(root, "cat-file", "blob", blob) != old.encode("utf-8"):
        raise ExportError(f"{rel} has changes not committed to HEAD: commit or stash them first")
    return mode


def _run_git(
    root: Path, args: tuple[str, ...], env: dict[str, str] | None, stdin: bytes | None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, env=env)


def _git(root: Path, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> bytes:
    """Git's stdout, or `ExportError` with git's own words."""
    done = _run_git(root, args, env, stdin)
    if done.returncode:
        raise ExportError(f"git {args[0]}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _git_text(root: Path, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> str:
    return _git(root, *args, env=env, stdin=stdin).decode("utf-8").strip()


def _git_ok(root: Path, *args: str) -> bool:
    return _run_git(root, args, None, None).returncode == 0
