"""`make bench` / `python -m bench [--quick] [--only NAME]`: run the scenarios, print one table.

Every scenario module has `main(results_dir) -> {"name", "ratios", "raw"}`. A ratio is either a
figure (`{"value", "goal", "unit", "note"}`, see common.figure) or a bare number. The runner writes
`<results>/<name>.json` per scenario and `summary.json` + `summary.md` for the run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .common import QUICK_ENV, RESULTS_DIR, cpu_layout, is_quick, verdict, write_result

SCENARIOS = ["app_vs_bare", "instructions", "cold_start", "import_speed", "page_weight", "stack",
             "push_content", "notebook_import", "chart_weight"]
# Run only when asked for (`make drills`): failure drills, not measurements of speed.
ON_REQUEST = ["drills"]


def _rows(result: dict) -> list[dict]:
    rows = []
    for label, item in result.get("ratios", {}).items():
        fig = item if isinstance(item, dict) else {"value": item}
        rows.append(
            {
                "scenario": result.get("name", "?"),
                "figure": label,
                "value": fig.get("value"),
                "unit": fig.get("unit", ""),
                "goal": fig.get("goal"),
                "note": fig.get("note", ""),
                "verdict": verdict(fig.get("value"), fig.get("goal")),
            }
        )
    return rows


def _value(row: dict) -> str:
    value = row["value"]
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {row['unit']}".strip()


def _table(rows: list[dict]) -> list[list[str]]:
    head = ["scenario", "figure", "value", "goal", "verdict", "note"]
    body = [
        [r["scenario"], r["figure"], _value(r), r["goal"] or "", r["verdict"], r["note"]]
        for r in rows
    ]
    return [head, *body]


def _print_table(table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _meta(
    quick: bool, skipped: list[str], failed: list[str], load_average: list[float]
) -> dict:
    """How and where a summary was made: written with it, shown above its table."""
    server_cpu, load_cpu = cpu_layout()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "server_cpu": server_cpu,
        "load_cpu": load_cpu,
        "skipped": skipped,
        "failed": failed,
        "load_average": load_average,
    }


def _markdown(table: list[list[str]], meta: dict, busy: str) -> str:
    lines = [
        f"# Benchmark summary ({meta['measured_at']}{', quick' if meta['quick'] else ''})",
        "",
        f"Server on core {meta['server_cpu']}, wrk on core {meta['load_cpu']}. "
        "PASS/MISS compares each figure with its goal; info figures have none.",
        "",
        "| " + " | ".join(table[0]) + " |",
        "|" + "---|" * len(table[0]),
    ]
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table[1:]
    ]
    if busy:
        lines += ["", busy]
    if meta["skipped"] or meta["failed"]:
        lines += [
            "",
            f"Skipped: {', '.join(meta['skipped']) or 'none'}. "
            f"Failed: {', '.join(meta['failed']) or 'none'}.",
        ]
    return "\n".join(lines) + "\n"


def _busy_warning(load_average: list[float]) -> str:
    """Absolute times (cold start, import) are only meaningful on an otherwise idle machine."""
    if max(load_average) < 1.5:
        return ""
    return (
        f"Warning: load average was {load_average[0]} before and {load_average[1]} after the run: "
        "something else was using the CPUs, so absolute times are inflated; ratios less so."
    )


def run(names: list[str], results_dir: Path) -> int:
    results_dir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    rows: list[dict] = []
    skipped: list[str] = []
    failed: list[str] = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"bench.{name}":
                raise
            print(f"[{name}] skipped: bench/{name}.py is not there yet", flush=True)
            skipped.append(name)
            continue
        print(f"[{name}] running ...", flush=True)
        started = time.monotonic()
        try:
            result = module.main(results_dir)
        except Exception:
            print(f"[{name}] FAILED:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            failed.append(name)
            rows.append(
                {
                    "scenario": name,
                    "figure": "scenario failed",
                    "value": None,
                    "unit": "",
                    "goal": None,
                    "note": "see the traceback above",
                    "verdict": "FAIL",
                }
            )
            continue
        result.setdefault("name", name)
        write_result(results_dir, name, {**result, "seconds": round(time.monotonic() - started, 1)})
        print(f"[{name}] done in {time.monotonic() - started:.0f} s", flush=True)
        rows += _rows(result)

    load_average = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    meta = _meta(is_quick(), skipped, failed, load_average)
    busy = _busy_warning(load_average)
    table = _table(rows)
    print()
    _print_table(table)
    (results_dir / "summary.json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    (results_dir / "summary.md").write_text(_markdown(table, meta, busy))
    if busy:
        print(f"\n{busy}")
    print(f"\nWrote {results_dir / 'summary.md'} and one JSON file per scenario.")
    misses = sum(r["verdict"] == "MISS" for r in rows)
    print(f"{misses} figure(s) missed their goal; {len(failed)} scenario(s) failed.")
    # A miss is a finding, not a broken bench: only a scenario that could not run fails the command.
    return 1 if failed else 0


def summarize(results_dir: Path) -> int:
    """The table of the latest result of each scenario, e.g. after several `--only` runs."""
    rows: list[dict] = []
    for name in SCENARIOS:
        path = results_dir / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            for row in _rows(result):
                row["note"] = f"{row['note']} (measured {result['measured_at'][:16]})".strip()
                rows.append(row)
    table = _table(rows)
    _print_table(table)
    load_average = [round(os.getloadavg()[0], 2)] * 2
    meta = _meta(False, [], [], load_average)
    (results_dir / "summary.md").write_text(_markdown(table, meta, _busy_warning(load_average)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run Inkwell's benchmarks; print every figure next to its goal.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS + ON_REQUEST,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS + ON_REQUEST)}",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short single runs: a smoke test of the bench"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="where to write the JSON files"
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="run nothing: rebuild the summary from the latest JSON file of every scenario",
    )
    args = parser.parse_args(argv)
    if args.summary:
        return summarize(args.results)
    if args.quick:
        os.environ[QUICK_ENV] = "1"
    return run(args.only or SCENARIOS, args.results)


if __name__ == "__main__":
    sys.exit(main())
