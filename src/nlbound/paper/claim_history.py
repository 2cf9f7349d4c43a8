"""What the claims' criteria were before, and why they changed; what p means (kept beside the claims)."""

from __future__ import annotations

__all__ = ["HISTORY", "SOUND_B", "P_MEANING"]

P_MEANING = ("What p means in training (decided here, issue 21): the paper calls p 'the floating point "
             "arithmetic precision'; in its proof (Lemma 7.2, eq. 28) p only counts the bits of the proxy's free "
             "parameters. nlbound trains f by the same gradient flow for every p (float32 gradients, float64 "
             "weights) and rounds the proxy's parameters (c = YX̃ᵀ/m and the κ=2 correction) to p bits, because "
             "the theorem bounds the risk of the flow's f, whose arithmetic the proof does not model (Lemma 7.1 is "
             "about the exact flow): training f in p-bit arithmetic would change the object bounded without a "
             "proof step for it. So the same f is bounded at both p, and 'p=16 better' compares Υ's saving "
             "(fewer bits counted) with the larger p-bit term (docs/PROOFS.md, step P); before the p-bit term "
             "was charged, the difference was the identity Υ₂(32) − Υ₂(16).")


SOUND_B = {"revision": "B made a bound (issue 21): every B now charges the p-bit proxy's term (docs/PROOFS.md "
                       "step P) and evaluates each searched point at δ/n (the union price of the minimum); "
                       "the criteria's wording is unchanged",
           "why": "the earlier B left |g_κ − g̃_κ| uncharged (measured up to 15× Δε² at p = 16) and took a "
                  "minimum over t and q without its price: not covered by a proof"}
# The criteria before the current ones, from git history (commit 1489685, issue 11) and the
# REPRODUCTION.md of that time: first criterion, its result then, and why it was replaced.
HISTORY: dict[str, list[dict[str, str]]] = {
    "C1": [{"criterion": "as now (B < 0.5 for every β ≤ 0.1 of Fig. 1), one seed",
            "result": "held: B = 0.357, 0.357, 0.360, 0.370",
            "revision": "unchanged; judged on 3 seeds since issue 11", "why": "issue 11: seeds"}],
    "C2": [{"criterion": "B non-decreasing in β (tol. 0.01) over β ≤ 0.1, two smallest within 10 %",
            "result": "held", "revision": "the same test over every β of Fig. 1 up to 1 (issue 11 added β = 0.3, 1)",
            "why": "the paper's 'increases as β grows' is tested on larger β too; not after a failure"}],
    "C4": [{"criterion": "as now, one seed, p = 16 evaluated on the run trained at p = 32",
            "result": "held: 0.472 (p=32), 0.432 (p=16); the difference was the identity Υ₂(32) − Υ₂(16)",
            "revision": "each p on a run trained with that p (issue 11); 3 seeds",
            "why": "Υ must count the proxies the run rounded; not after a failure"}],
    "C5": [{"criterion": "as now", "result": "held: deviation/Υ₂ = 0.60 (ε=0.01), 5.1 (ε=0.1)",
            "revision": "unchanged; 3 seeds since issue 21", "why": "issue 21: seeds"}],
    "C6": [{"criterion": "B(14×14) < 0.5 and 0.5 < B(28×28) ≤ 0.75 with p = 16 in the bound only",
            "result": "held: 0.305, 0.352, 0.520",
            "revision": "runs trained with p = 16 (issue 11)", "why": "Υ must count the proxies the run rounded"}],
    "C8": [{"criterion": "L_X non-increasing for β ∈ {0.001, 0.1} × ε ∈ {0.001, 0.01, 0.1, 1}", "result": "held",
            "revision": "also β = 1 and PyTorch's default scale (issue 11); 3 seeds (issue 21)",
            "why": "the paper says 'for β large and small'; not after a failure"}],
    "C3": [{"criterion": "B(κ=1) / B(κ=2) ≥ 2 (B as in C1, β=ε=0.001)",
            "result": "does not hold: B(κ=1) = 0.610, B(κ=2) = 0.357, ratio 1.71 (one seed, before issue 11)",
            "revision": "κ=1 vacuous wherever κ=2 is not, and the κ=1 deviation ≥ 10× the κ=2 one at the κ=2 minimiser",
            "why": "issue 11: a ratio of 2 is ours, not the paper's; 'much stronger' read as the comparison of "
                   "Fig. 2 (κ=1 vacuous where κ=2 is not). The revision was made after the first criterion "
                   "had failed on the same runs."}],
    "C7": [{"criterion": "B(L) strictly increases with L for γ=α/q",
            "result": "does not hold: B = 0.348 (L=2), 1.095 (L=3), 1.095 (L=4): L=3 and L=4 vacuous, tied at 1 + Υ₂",
            "revision": "B(L=3), B(L=4) ≥ B(L=2) + 0.1 (γ=α/q)",
            "why": "issue 11: no order between two vacuous bounds; revised after the strict criterion failed"},
           {"criterion": "B(L=3), B(L=4) ≥ B(L=2) + 0.1 on Fig. 6's runs (γ=α/q)",
            "result": "held only because L=3 and L=4 sit at 1 + Υ₂ = 1.0953 (margin risk 1) on every recorded t; "
                      "the planner found an L=3 setup at 0.3514 against L=2's 0.3042 (+0.047)",
            "revision": "the best setup per depth (the planner's search, then trained on 3 seeds): "
                        "B_best(L) ≥ B_best(2) + 0.1 for L = 3, 4",
            "why": "issue 21: two vacuous curves do not show that depth makes the bound worse; the best "
                   "setup the theory allows per depth does"}],
    "C9": [{"criterion": "phases by the loss alone (tol 0.01); for some single γ the g2 bound < 0.5 on the whole "
                         "window and for no γ the g1 bound",
            "result": "does not hold: phase 3 not reached by 10·t*; the κ=2 bound < 0.5 on 77 % of the window (κ=1: 3 %)",
            "revision": "phases of App. B by risk and MSE (tol 0.005), runs to phase 3 (cap 60 t*), minimum over every "
                        "recorded γ plus the grid's union price < 0.5 on all of [t1, t2)",
            "why": "issue 11: the runs stopped before the phase the caption describes and the loss-only detector "
                   "fired early; revised after the first criterion had failed"}],
    "C10": [{"criterion": "as C9's first criterion for every ε ≤ 0.4",
             "result": "does not hold: window fractions 0.77, 0.76, 0.23 for ε = 0.1, 0.2, 0.4",
             "revision": "as C9's revision for every ε ≤ 0.4",
             "why": "issue 11 (as C9); still does not hold after the revision"}],
}


