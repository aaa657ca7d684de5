"""opwatch benchmarks: reproducible measurements, not tests (see docs/benchmarks.md)."""
