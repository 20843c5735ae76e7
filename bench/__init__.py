"""Benchmarks run by ``make bench``: each measures real work and, in the same run, the floor (the same work done
directly, without our layers), and reports the ratio."""
