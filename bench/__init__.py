"""Pixline's benchmark suite: `make bench` (or `python -m bench.run [--quick]`); results in bench/results/."""
