"""`nlbound sweep`: a researcher's TOML spec, its runs, Theorem 5.2 tabulated on every run, and its plot."""
