"""The benchmark harness: `python bench/run.py --help` (see the README's Benchmarks section)."""
