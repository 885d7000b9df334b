"""``make bench``: measured figures, written to bench/results.md (never asserted in tests)."""
