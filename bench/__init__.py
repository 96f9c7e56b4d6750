"""Inkwell's benchmarks: `make bench` (or `python -m bench`) runs every scenario and prints ratios.

Each scenario is a module with `main(results_dir: pathlib.Path) -> dict` returning
`{"name": ..., "ratios": {...}, "raw": {...}}`; see bench/README.md.
"""
