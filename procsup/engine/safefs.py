"""Opening log files so that a program's user can never make the master write elsewhere.

A program running as `app` usually can write its log folder, so it can put a symlink, a hard link,
a FIFO or a file of its own where the master (often root) will open, append to or rotate a log.
Every such operation therefore goes through a directory descriptor and checks what it opened:

- the folder is reached one component at a time from `/` with `O_NOFOLLOW`; a symlink on the way is
  followed only when it sits in a folder that nobody but root or the master's user can write (so
  `/var/run -> /run` works, while a link planted by a program's user is refused);
- the log itself is opened relative to that folder with `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY`, and the
  opened descriptor (never the path) must be a regular file with one link, owned by the master's
  user or root;
- rotation renames relative to the folder (a rename never follows a link) and truncates only a
  descriptor that passed those checks.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
MAX_LINKS = 40  # like the kernel's limit on symlinks in one lookup


class Refused(OSError):
    """A path procsup will not write through; the message says why and what to do."""


def trusted(st: os.stat_result) -> bool:
    """A folder only root or the master's user can change: links in it were put there by them."""
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def open_dir(path: str, create: bool = True) -> int:
    """An O_PATH descriptor of folder `path`, creating missing folders (0755) when `create`.

    Symlinks are followed only inside trusted folders (see `trusted`); anything else on the way
    raises `Refused`. Other OS errors (a missing folder, EACCES) are raised as they are."""
    parts = os.path.abspath(path).split("/")[1:]
    fd = os.open("/", DIR_FLAGS)
    seen: list[str] = []
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            try:
                new = _open_component(fd, name, create)
            except NotADirectoryError:
                target = _link_target(fd, name, "/" + "/".join([*seen, name]))
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path) from None
                if target.startswith("/"):
                    os.close(fd)
                    fd, seen = os.open("/", DIR_FLAGS), []
                parts[:0] = target.split("/")
                continue
            os.close(fd)
            fd = new
            seen = seen[:-1] if name == ".." else [*seen, name]
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_component(dir_fd: int, name: str, create: bool) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
        os.mkdir(name, 0o755, dir_fd=dir_fd)
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def _link_target(dir_fd: int, name: str, shown: str) -> str:
    """The target of the symlink `name` in `dir_fd`, if it may be followed; else Refused."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        raise Refused(errno.ENOTDIR, f"{shown} is not a folder")
    if not trusted(os.fstat(dir_fd)):
        raise Refused(
            errno.ELOOP,
            f"{shown} is a symlink in a folder other users can write "
            "(procsup does not follow it; name the real folder)",
        )
    return os.readlink(name, dir_fd=dir_fd)


def open_log(dir_fd: int, name: str) -> int:
    """Open (creating, 0644) the log `name` in `dir_fd` for appending, after checking it.
    Refusals say what is wrong with "it" (the caller names the file)."""
    try:
        fd = os.open(name, FILE_FLAGS, 0o644, dir_fd=dir_fd)
    except OSError as exc:
        # A symlink gives ELOOP, or EACCES with O_CREAT in a sticky folder: say what it is.
        if _is_link(dir_fd, name):
            raise Refused(errno.ELOOP, "it is a symlink (procsup never follows one)") from None
        if exc.errno == errno.ENXIO:
            raise Refused(exc.errno, "it is not a regular file") from None
        raise
    try:
        check_file(fd)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_existing(path: str) -> int:
    """Open an existing log for reading (`logs` after a master restart), under the same rules:
    a symlinked or hard-linked log must not show another file to whoever may call `logs`."""
    folder, name = os.path.split(os.path.abspath(path))
    dir_fd = open_dir(folder, create=False)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError:
        if _is_link(dir_fd, name):
            raise Refused(errno.ELOOP, "it is a symlink (procsup never follows one)") from None
        raise
    finally:
        os.close(dir_fd)
    try:
        check_file(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _trusted_owners() -> str:
    uid = os.geteuid()
    return "root (procsup's user)" if uid == 0 else f"procsup's user (uid {uid}) or root"


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def check_file(fd: int) -> os.stat_result:
    """What an opened log must be: a regular file, one link, owned by us or root."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise Refused(errno.EINVAL, "it is not a regular file")
    if st.st_uid not in (0, os.geteuid()):
        raise Refused(
            errno.EPERM,
            f"it belongs to uid {st.st_uid}, not to {_trusted_owners()}; "
            "remove it and procsup creates its own",
        )
    if st.st_nlink != 1:
        raise Refused(errno.EMLINK, f"it has {st.st_nlink} hard links; a log must have one")
    return st


def same_file(dir_fd: int, name: str, ident: tuple[int, int]) -> bool:
    """Does `name` in `dir_fd` still name the file `ident` (st_dev, st_ino) is (not deleted,
    not moved)?"""
    try:
        now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == ident


def shift_backups(dir_fd: int, name: str, backups: int) -> None:
    """`name.N-1` → `name.N` … `name.1` → `name.2` (renames never follow links)."""
    for n in range(backups - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{name}.{n}", f"{name}.{n + 1}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
