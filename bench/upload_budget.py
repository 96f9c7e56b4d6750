"""What one hostile upload costs: an animated GIF of N 1x1 frames through the upload pipeline
(`inkwell.media.store_upload`, as the admin's upload view calls it), each size in a fresh process.

    .venv/bin/python -m bench.upload_budget 1000 50000 200000

Prints, per frame count: the file's size, the outcome (stored, or the refusal the author reads),
the wall time, and the peak memory of the process and of any child it ran (ru_maxrss). Issue 15
measured 22.8 s for 50,000 frames and 123 s at ~550 MB for 200,000 before the frame cap and the
decode budget.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def gif(frames: int, delay_cs: int = 10) -> bytes:
    """A 1x1 GIF of `frames` identical frames, written byte by byte (as the attack did)."""
    header = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x04" + delay_cs.to_bytes(2, "little") + b"\x00\x00"
             + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00")
    return header + loop + frame * frames + b"\x3b"


def one(frames: int) -> dict:
    from inkwell import create_app
    from inkwell.media import ImageRejected, store_upload
    from inkwell.storage import get_store

    data = gif(frames)
    with tempfile.TemporaryDirectory(prefix="inkwell-upload-budget-") as folder:
        os.environ["INKWELL_INSTANCE_PATH"] = folder
        app = create_app({"INKWELL_ENV": "testing", "MEDIA_ROOT": f"{folder}/media",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/db.sqlite3"})
        with app.app_context():
            started = time.perf_counter()
            try:
                store_upload(data, "frames.gif", get_store())
                outcome = "stored"
            except ImageRejected as e:
                outcome = f"refused: {e.message}"
            except Exception as e:  # what the view would have turned into a 500
                outcome = f"error: {type(e).__name__}: {e}"
            seconds = time.perf_counter() - started
    return {
        "frames": frames, "bytes": len(data), "outcome": outcome, "seconds": round(seconds, 2),
        "peak_mb_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_mb_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(one(int(argv[1]))))
        return
    for frames in [int(a) for a in argv] or [1000, 50_000, 200_000]:
        run = subprocess.run([sys.executable, "-m", "bench.upload_budget", "--one", str(frames)],
                             capture_output=True, text=True, timeout=1800)
        if run.returncode:
            print(f"{frames:>8} frames: the process failed: {run.stderr.strip()[-300:]}")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{r['frames']:>8} frames {r['bytes'] / 1e6:6.2f} MB  {r['seconds']:7.2f} s  "
              f"peak {r['peak_mb_self']} MB (child {r['peak_mb_child']} MB)  {r['outcome']}")


if __name__ == "__main__":
    main(sys.argv[1:])
