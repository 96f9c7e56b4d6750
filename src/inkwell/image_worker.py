"""Uploads are decoded in a child process with a time and memory budget, so one hostile file
(200,000 frames, a decompression bomb Pillow does not see) cannot hold a worker or the box:
gthread workers do not enforce gunicorn's timeout on a busy thread, and an out-of-memory kill
would take the whole worker with it.

The child (`python -m inkwell.image_worker`) sets its own limits first (RLIMIT_AS, RLIMIT_CPU),
reads one request from stdin (a JSON line, then the upload's bytes) and writes one answer to
stdout: a JSON line, then the files' bytes back to back. No pickle crosses from the child, which
handled hostile input, to the parent.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .image_rules import ImageRejected

TOO_SLOW = "The image takes too long to process; save it smaller, or with fewer frames, and retry."
TOO_LARGE = "The image is too large to process."


@dataclass(frozen=True)
class Budget:
    """What one upload may cost: pixels, frames, memory (bytes of address space), CPU seconds."""

    max_pixels: int
    max_frames: int
    memory: int
    seconds: int


def process_upload(data: bytes, filename: str, budget: Budget):
    """images.make_variants, run in a child process within `budget`: a Processed, or
    ImageRejected with a message for the author."""
    from .images import Processed

    request = json.dumps({"filename": filename[:200], "max_pixels": budget.max_pixels,
                          "max_frames": budget.max_frames, "memory": budget.memory,
                          "seconds": budget.seconds}).encode()
    try:  # the wall clock too: a child asleep or blocked uses no CPU time
        run = subprocess.run([python(), "-m", "inkwell.image_worker"],
                             input=request + b"\n" + data, capture_output=True,
                             timeout=budget.seconds * 2 + 10)
    except subprocess.TimeoutExpired:  # run() has killed the child (by its PID) and reaped it
        raise ImageRejected(TOO_SLOW) from None
    if run.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ImageRejected(TOO_SLOW)
    head, _, body = run.stdout.partition(b"\n")
    try:
        answer = json.loads(head)
    except ValueError:
        answer = None
    if run.returncode or not isinstance(answer, dict):  # a crash: no answer, or half a one
        raise ImageRejected(TOO_LARGE if b"MemoryError" in run.stderr else
                            "The image could not be processed; save it again and retry.")
    if "rejected" in answer:
        raise ImageRejected(str(answer["rejected"]))
    done = Processed(answer["content_type"], answer["width"], answer["height"])
    offset = 0
    for name, suffix, content_type, size in answer["files"]:
        blob = None if size is None else body[offset:offset + size]
        offset += size or 0
        done.files[name] = (suffix, content_type, blob)
    return done


def python() -> str:
    """This environment's Python: sys.executable, except under uWSGI (where it names uwsgi)."""
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    return str(Path(sys.prefix) / "bin" / "python3")


def _child() -> None:
    head = sys.stdin.buffer.readline()
    request = json.loads(head)
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    resource.setrlimit(resource.RLIMIT_CPU, (request["seconds"], request["seconds"]))
    data = sys.stdin.buffer.read()
    from .images import make_variants

    try:
        done = make_variants(data, request["filename"], request["max_pixels"],
                             request["max_frames"])
    except ImageRejected as e:
        answer, blobs = {"rejected": e.message}, []
    else:
        files = [(name, suffix, ctype, None if blob is None else len(blob))
                 for name, (suffix, ctype, blob) in done.files.items()]
        answer = {"content_type": done.content_type, "width": done.width,
                  "height": done.height, "files": files}
        blobs = [blob for _, _, blob in done.files.values() if blob is not None]
    out = sys.stdout.buffer
    out.write(json.dumps(answer).encode() + b"\n")
    for blob in blobs:
        out.write(blob)
    out.flush()


if __name__ == "__main__":
    _child()
