"""Gaussian discriminant analysis on feature vectors: DDU's density (Mukhoti et al. 2021).

One Gaussian per class - mean, full covariance, prior = the class's share of the fitted samples -
and the epistemic uncertainty of a point z is its negative log density under the mixture,

    u(z) = - log sum_c pi_c N(z; mu_c, Sigma_c),

computed in float64 with log-sum-exp over classes and a Cholesky solve per class (no inverse).

Covariances: `ledoit_wolf` (scikit-learn's Ledoit-Wolf shrinkage of each class's sample covariance
towards a multiple of the identity: full rank even with fewer samples than dimensions, the usual
case in active learning) or `jitter` (the unbiased sample covariance, as DDU). Either then passes
the jitter ladder, DDU's safeguard for singular matrices: the first value of JITTER_LADDER for
which every class's Sigma + jitter I has a Cholesky factor whose pivots are all at least
PIVOT_FLOOR, added to every class. DDU walks absolute jitters from 0 and 1e-308 upward; a singular
covariance then gets pivots near 1e-154 and the density of any point off the samples' span
overflows float64. Our ladder walks decades relative to the features' scale s (the mean diagonal
of the class covariances): 0, then 1e-10 s, 1e-9 s, ... s, so the densities stay finite.

A class with a single sample has no covariance of its own: it gets the covariance of all the
fitted samples together (between-class spread included, so a broad Gaussian), and is listed in
`GDA.borrowed`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_triangular

JITTER_LADDER = (0.0,) + tuple(10.0 ** e for e in range(-10, 1))  # times the feature scale s
PIVOT_FLOOR = 1e-12  # times s: a smaller Cholesky pivot counts as singular
LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class GDA:
    classes: np.ndarray  # (C,) the fitted class labels
    means: np.ndarray  # (C, D) float64
    chols: np.ndarray  # (C, D, D) lower Cholesky factors of Sigma_c + jitter I
    log_priors: np.ndarray  # (C,)
    jitter: float  # added to every diagonal (absolute); 0 when no class needed it
    scale: float  # s: mean diagonal of the class covariances
    borrowed: list = field(default_factory=list)  # labels with one sample: covariance of all samples


def _ledoit_wolf(x: np.ndarray) -> np.ndarray:
    from sklearn.covariance import LedoitWolf

    return LedoitWolf(assume_centered=False).fit(x).covariance_


def _sample_covariance(x: np.ndarray) -> np.ndarray:
    return np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], x.shape[1])


# ddu.covariance -> estimator; the params schema (src/core/params_schema.py) lists the same names
COVARIANCES = {"ledoit_wolf": _ledoit_wolf, "jitter": _sample_covariance}


def class_covariance(x: np.ndarray, method: str) -> np.ndarray:
    """(n, D) float64 samples of one class, n >= 2 -> (D, D), by the COVARIANCES estimator `method`."""
    return COVARIANCES[method](x)


def _cholesky_all(covs: list[np.ndarray], jitter: float, floor: float) -> list[np.ndarray] | None:
    eye = np.eye(covs[0].shape[0])
    out = []
    for cov in covs:
        try:
            chol = np.linalg.cholesky(cov + jitter * eye)
        except np.linalg.LinAlgError:
            return None
        if not (np.isfinite(chol).all() and (np.diag(chol) ** 2 >= floor).all()):
            return None
        out.append(chol)
    return out


def fit_gda(features: np.ndarray, labels: np.ndarray, covariance: str = "ledoit_wolf") -> GDA:
    """One Gaussian per label. Raises ValueError for fewer than two samples in all."""
    z = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or len(z) != len(labels):
        raise ValueError(f"fit_gda: features {z.shape} and labels {labels.shape} must be (n, D) and (n,)")
    if not np.isfinite(z).all():
        raise ValueError("fit_gda: the features hold NaN or inf (the network diverged?)")
    if len(z) < 2:
        raise ValueError(f"fit_gda: {len(z)} sample(s); a covariance needs at least two")
    values, counts = np.unique(labels, return_counts=True)
    shared = class_covariance(z, covariance) if (counts < 2).any() else None
    means = np.stack([z[labels == c].mean(0) for c in values])
    covs = [class_covariance(z[labels == c], covariance) if n >= 2 else shared for c, n in zip(values, counts)]
    scale = float(np.mean([np.mean(np.diag(c)) for c in covs]))
    scale = scale if scale > 0 else 1.0
    for step in JITTER_LADDER:
        chols = _cholesky_all(covs, step * scale, PIVOT_FLOOR * scale)
        if chols is not None:
            break
    else:  # the last step, s I on a PSD matrix, always factorises: this is unreachable but explicit
        raise ValueError(f"fit_gda: no jitter up to {JITTER_LADDER[-1]} x {scale:g} makes the covariances positive "
                         f"definite")
    n = counts.astype(np.float64)
    return GDA(values, means, np.stack(chols), np.log(n / n.sum()), step * scale, scale,
               [int(v) for v in values[counts < 2]])


def class_log_densities(gda: GDA, features: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(N, C) float64: log pi_c + log N(z; mu_c, Sigma_c) for every point and fitted class."""
    z = np.asarray(features, dtype=np.float64)
    d = z.shape[1]
    out = np.empty((len(z), len(gda.classes)))
    for c, (mu, chol, log_prior) in enumerate(zip(gda.means, gda.chols, gda.log_priors)):
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        for s in range(0, len(z), chunk):
            sol = solve_triangular(chol, (z[s:s + chunk] - mu).T, lower=True, check_finite=False)
            out[s:s + chunk, c] = log_prior - 0.5 * (d * LOG_2PI + log_det + np.einsum("ij,ij->j", sol, sol))
    return out


def epistemic_uncertainty(gda: GDA, features: np.ndarray) -> np.ndarray:
    """(N,) float64: - log sum_c pi_c N(z; mu_c, Sigma_c), by log-sum-exp (higher = less familiar)."""
    logp = class_log_densities(gda, features)
    top = logp.max(1, keepdims=True)
    return -(top[:, 0] + np.log(np.exp(logp - top).sum(1)))
