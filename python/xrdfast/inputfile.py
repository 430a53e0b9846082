"""One check for every file xrdfast reads: it must be a regular file of a sane size.

A FIFO or a terminal would block ``open`` forever, ``/dev/zero`` would be read until memory
runs out, and a directory or a vanished file gives an ``OSError`` that names nothing. So
every reader asks ``read_input_file`` for its bytes: ``stat`` first (nothing is opened
unless it is a regular file within the limit), then a read of at most ``max_bytes + 1``
bytes, so that a file growing while it is read is still bounded.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def read_input_file(path: str | os.PathLike, what: str, max_bytes: int,
                    error: type[Exception] = ValueError, allow_empty: bool = False) -> bytes:
    """The bytes of ``path``, or ``error`` naming the file and saying what is wrong.

    ``what`` names the kind of file in messages ("structure file", "pattern file");
    ``max_bytes`` is the largest such file that makes sense. ``allow_empty`` returns blank
    content to a caller that words that error itself.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except OSError as exc:
        raise error(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a directory; expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if
                stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise error(f"{p}: is {kind}; expected a {what} (save it to a file first)")
    if st.st_size > max_bytes:
        raise error(f"{p}: {st.st_size / 2**20:.1f} MiB is more than the {max_bytes / 2**20:.0f} MiB "
                    f"accepted for a {what}; not read")
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: grew beyond the {max_bytes / 2**20:.0f} MiB accepted for a {what} while being read")
    if not allow_empty and not data.strip():
        raise error(f"{p}: is empty; expected a {what}")
    return data
