"""lambda-emu benchmarks: `python bench/run.py` (see BENCHMARKS.md)."""
