"""Baseline generalization bounds on the same trained nets: counting, VC, spectral, PAC-Bayes (issue 13)."""

from nlbound.baselines.compare import CompareSettings, compare_net, compare_run, theorem_bound
from nlbound.baselines.pacbayes import PacBayesSettings
from nlbound.baselines.weights import TrainedNet, trained_net

__all__ = ["CompareSettings", "PacBayesSettings", "TrainedNet", "compare_net", "compare_run", "theorem_bound",
           "trained_net"]
