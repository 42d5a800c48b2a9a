"""Writing files so that a reader never sees half of one, and telling live processes from dead.

:func:`atomic_write` writes under a hidden temporary name in the target's folder and renames the
finished file into place (``os.replace`` is atomic on one file system): an interrupted write
leaves the old file or none, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "process_alive"]


def atomic_write(path: str | Path, write: Callable[[str], object], *, tag: str = ".tmp-") -> Path:
    """Call ``write(temporary_path)``, then rename the temporary file to ``path``.

    Parameters
    ----------
    path : str or Path
        The file to (re)place.
    write : callable
        Writes the whole file to the path it is given (a name in ``path``'s folder).
    tag : str
        Part of the temporary file's name (``.<name><tag>XXXX``): lets a caller recognise and
        clean up its own leftovers.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = atomic_write(target, lambda name: pathlib.Path(name).write_text("done"))
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}{tag}", dir=path.parent)
    os.close(handle)
    try:
        write(name)
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, *, tag: str = ".tmp-") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda name: Path(name).write_text(text, encoding="utf-8"), tag=tag)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours counts), so its temporary files are in use."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
