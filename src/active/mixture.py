"""A two-component Gaussian mixture on one-dimensional scores, fitted by EM in NumPy: the
"known" / "clean" / "informative" split of LfOSA and EAOA (src/active/open_set.py).

Both official codes fit scikit-learn's `GaussianMixture(n_components=2, max_iter=10, tol=1e-2,
reg_covar=5e-4)` with its default k-means initialisation and no fixed random state. Here:

- initialisation: the exact 1-D two-means split (the partition of the sorted values into a lower
  and an upper run with the least within-run sum of squares, found by one scan of the cumulative
  sums) instead of a randomly started k-means: the same kind of start, deterministic, no seed;
- then scikit-learn's EM: an M-step from the hard split, then E- and M-steps until the mean
  log-likelihood changes by less than `tol` or `iterations` steps ran; `reg` is added to each
  variance (scikit-learn's reg_covar); the posteriors are those of the fitted parameters.

Which component is which is decided by the means alone (`Mixture.posterior(x, "high" | "low")`),
never by the order in which the fit returns them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))
EPS = 10 * np.finfo(np.float64).eps  # scikit-learn's guard on a component's weight


@dataclass(frozen=True)
class Mixture:
    weights: np.ndarray  # (2,)
    means: np.ndarray  # (2,)
    variances: np.ndarray  # (2,), reg included

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """(n, 2): log w_c + log N(x; mu_c, var_c)."""
        x = np.asarray(x, dtype=np.float64)[:, None]
        return (np.log(self.weights) - 0.5 * (LOG_2PI + np.log(self.variances)
                                              + (x - self.means) ** 2 / self.variances))

    def posterior(self, x: np.ndarray, component: str) -> np.ndarray:
        """(n,) posterior of the component with the higher ("high") or lower ("low") mean; equal means
        pick the first."""
        if component not in ("high", "low"):
            raise ValueError(f"component must be 'high' or 'low', not {component!r}")
        c = int(np.argmax(self.means) if component == "high" else np.argmin(self.means))
        lj = self.log_joint(x)
        return np.exp(lj[:, c] - np.logaddexp(lj[:, 0], lj[:, 1]))


def two_means_split(sorted_x: np.ndarray) -> int:
    """s in 1..n-1: the lower run sorted_x[:s] and the upper run sorted_x[s:] with the least total
    within-run sum of squares (the first such s on ties)."""
    x = sorted_x - sorted_x.mean()  # centred: the cumulative sums stay small
    n, total = len(x), float(x.sum())
    c = np.cumsum(x)[:-1]  # sums of the lower runs of 1..n-1 values
    s = np.arange(1, n, dtype=np.float64)
    between = c ** 2 / s + (total - c) ** 2 / (n - s)  # maximised <=> within-run SS minimised
    return int(np.argmax(between)) + 1


def _m_step(x: np.ndarray, resp: np.ndarray, reg: float) -> Mixture:
    nk = resp.sum(0) + EPS
    means = resp.T @ x / nk
    variances = (resp * (x[:, None] - means) ** 2).sum(0) / nk + reg
    return Mixture(nk / len(x), means, variances)


def fit_two_gaussians(values: np.ndarray, iterations: int = 10, tol: float = 1e-2, reg: float = 5e-4) -> Mixture:
    """Fit the mixture to (n,) finite values, n >= 2. Deterministic: the same values give the same
    mixture, whatever their order."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) < 2:
        raise ValueError(f"fit_two_gaussians: {len(x)} value(s); two components need at least 2")
    if not np.isfinite(x).all():
        raise ValueError("fit_two_gaussians: the values hold NaN or inf")
    if iterations < 1 or tol <= 0 or reg <= 0:
        raise ValueError(f"fit_two_gaussians: iterations {iterations} >= 1, tol {tol} > 0 and reg {reg} > 0 needed")
    xs = np.sort(x)
    cut = xs[two_means_split(xs) - 1]  # the largest value of the lower run
    upper = x > cut
    if not upper.any():  # constant values: any split has the same (zero) cost
        upper = np.arange(len(x)) >= len(x) // 2
    mix = _m_step(x, np.stack([~upper, upper], 1).astype(np.float64), reg)
    bound = -np.inf
    for _ in range(iterations):
        previous = bound
        lj = mix.log_joint(x)
        norm = np.logaddexp(lj[:, 0], lj[:, 1])
        bound = float(norm.mean())
        mix = _m_step(x, np.exp(lj - norm[:, None]), reg)
        if abs(bound - previous) < tol:
            break
    return mix


def min_max(values: np.ndarray) -> np.ndarray:
    """(x - min) / (max - min), as EAOA scales each uncertainty before its mixture; zeros when the
    values are all equal."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return x
    span = float(x.max() - x.min())
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)
