"""Run every benchmark (`python -m benchmarks`, or `make benchmarks`)."""

import importlib
import pkgutil

import benchmarks

for module in sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.endswith("_bench")):
    importlib.import_module(f"benchmarks.{module}").main([])
