"""Raw tangent of a --sensitivity run vs the central difference in eps of two plain runs (7x7 MNIST, eps 0.01 +- 2e-3,
float64, rtol 1e-6, to t*_0.5); prints the relative difference (docs/ARCHITECTURE.md). ~1.5 min, one thread."""
import numpy as np, shutil
from nlbound.data import load_dataset
from nlbound.theory import t_star
from nlbound.training import TrainConfig, RunOptions, train
from nlbound.networks import layer_shapes, unpack
ds = load_dataset("mnist", 7); eps, h = 0.01, 2e-3
cfg = TrainConfig(eps=eps, beta=1e-3, t_end=float(t_star(0.5, 1e-3, ds.s, 2)), dtype="float64", rtol=1e-6, times=(5.0,))
th = {}
for e in (eps + h, eps - h):
    shutil.rmtree("/tmp/nlbound-check-sensitivity", ignore_errors=True); th[e] = train(cfg.replace(eps=e), ds, RunOptions(out_dir="/tmp/nlbound-check-sensitivity")).theta
    print("plain done", e, flush=True)
shutil.rmtree("/tmp/nlbound-check-sensitivity", ignore_errors=True)
r = train(cfg.replace(sensitivity=True), ds, RunOptions(out_dir="/tmp/nlbound-check-sensitivity"))
fd = (th[eps + h] - th[eps - h]) / (2 * h); sh = layer_shapes(ds.d, 64, 2)
print("t_end", cfg.t_end, "rel diff raw tangent", np.linalg.norm(r.tangent - fd) / np.linalg.norm(fd))
for l in range(2):
    print(f"dW{l+1}_spec", r.trace[f"dW{l+1}_spec"][-1], np.linalg.norm(unpack(fd, sh)[l], 2))
