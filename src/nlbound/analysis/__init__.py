"""Reading finished runs: declared bound variants, traces, Theorem 5.2 along t, phases, lemma runs, soundness."""
