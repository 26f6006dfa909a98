#!/usr/bin/python3
"""Test vectors for analysis/stats, computed with Debian's SciPy (python3-scipy).

Run: /usr/bin/python3 tools/scipy-vectors.py > test/fixtures/stats/scipy-vectors.json
The unit tests compare the lab's functions with these values to 1e-9. SciPy 1.10
(Debian 12) has no false_discovery_control, so BH is computed here with NumPy
from its definition; the Hodges-Lehmann bounds use SciPy's exact U distribution.
"""
import json
import sys

import numpy as np
import scipy
from scipy import special, stats
from scipy.stats._mannwhitneyu import _mwu_state

rng = np.random.default_rng(20261124)
out = {"scipy": scipy.__version__, "numpy": np.__version__}


def lognormal(n, cv, scale=1.0):
    sigma = np.sqrt(np.log(1 + cv * cv))
    return (scale * rng.lognormal(-sigma * sigma / 2, sigma, n)).tolist()


# Mann-Whitney U: exact (no ties, small) and asymptotic (ties or larger), two-sided.
mw = []
for n1, n2, shift in [(3, 3, 1.0), (3, 3, 1.3), (4, 5, 1.05), (5, 5, 1.1), (8, 7, 1.02), (10, 10, 1.05), (12, 9, 0.97), (20, 20, 1.03), (30, 30, 1.01)]:
    x = lognormal(n1, 0.05)
    y = lognormal(n2, 0.05, shift)
    r = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact")
    mw.append({"x": x, "y": y, "method": "exact", "u": float(r.statistic), "p": float(r.pvalue)})
for n1, n2 in [(5, 6), (10, 10), (25, 20), (40, 35), (60, 60)]:
    # Rounded values make ties.
    x = np.round(np.array(lognormal(n1, 0.05)) * 20) / 20
    y = np.round(np.array(lognormal(n2, 0.05, 1.04)) * 20) / 20
    r = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    mw.append({"x": x.tolist(), "y": y.tolist(), "method": "asymptotic", "u": float(r.statistic), "p": float(r.pvalue)})
for n1, n2 in [(35, 40), (50, 50)]:
    x = lognormal(n1, 0.05)
    y = lognormal(n2, 0.05, 1.02)
    r = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic", use_continuity=True)
    mw.append({"x": x, "y": y, "method": "asymptotic", "u": float(r.statistic), "p": float(r.pvalue)})
out["mannwhitneyu"] = mw

# Welch's t on logs.
welch = []
for n1, n2, cv, shift in [(3, 3, 0.02, 1.05), (5, 5, 0.05, 1.0), (10, 10, 0.02, 1.05), (10, 7, 0.14, 0.9), (20, 20, 0.01, 1.002), (4, 30, 0.1, 1.1)]:
    x = lognormal(n1, cv)
    y = lognormal(n2, cv, shift)
    r = stats.ttest_ind(np.log(x), np.log(y), equal_var=False)
    va, vb = np.var(np.log(x), ddof=1) / n1, np.var(np.log(y), ddof=1) / n2
    df = (va + vb) ** 2 / (va**2 / (n1 - 1) + vb**2 / (n2 - 1))
    welch.append({"x": x, "y": y, "t": float(r.statistic), "p": float(r.pvalue), "df": float(df)})
out["welch_log"] = welch

# Hodges-Lehmann shift and its interval from the exact U distribution.
hl = []
for n1, n2, level in [(3, 3, 0.95), (5, 5, 0.95), (10, 10, 0.95), (7, 9, 0.9), (20, 20, 0.95)]:
    x = np.log(lognormal(n1, 0.03))
    y = np.log(lognormal(n2, 0.03, 1.04))
    d = np.sort(np.subtract.outer(y, x).ravel())
    N = len(d)
    k = 0
    for j in range(N):
        if _mwu_state.cdf(j, n1, n2) > (1 - level) / 2:
            break
        k = j + 1
    if k == 0:
        conf = 1 - 2 * _mwu_state.pmf(0, n1, n2)
        k = 1
    else:
        conf = 1 - 2 * _mwu_state.cdf(k - 1, n1, n2)
    hl.append({"x": x.tolist(), "y": y.tolist(), "level": level, "estimate": float(np.median(d)), "lower": float(d[k - 1]), "upper": float(d[N - k]), "confidence": float(conf)})
out["hodges_lehmann"] = hl

# Benjamini-Hochberg from its definition.
bh = []
for m in [1, 5, 20, 200]:
    p = np.concatenate([rng.uniform(0, 1, m - m // 4), rng.uniform(0, 0.01, m // 4)])
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(q, 1)
    bh.append({"p": p.tolist(), "q": adj.tolist()})
out["benjamini_hochberg"] = bh

# Binomial test (two-sided), the conditional test behind rate comparisons.
out["binomtest"] = [
    {"k": k, "n": n, "p0": p0, "p": float(stats.binomtest(k, n, p0).pvalue)}
    for k, n, p0 in [(3, 10, 0.5), (0, 5, 0.5), (60, 100, 0.5), (1096, 169173, 0.5), (5000, 10000, 0.4986), (84000, 168000, 0.5003), (12, 40, 0.25), (140, 1000, 0.12)]
]

# Special functions.
out["special"] = {
    "gammaln": [[x, float(special.gammaln(x))] for x in [0.1, 0.5, 1, 1.5, 2.5, 7.3, 20, 171.5, 1e4, 2e5]],
    "norm_sf": [[z, float(stats.norm.sf(z))] for z in [-3, -1, 0, 0.5, 1.96, 3, 5, 8, 12]],
    "t_sf": [[t, df, float(stats.t.sf(t, df))] for t, df in [(0.5, 1), (2.0, 2), (2.776, 4), (1.5, 7.3), (-1.2, 12.5), (4.0, 30), (10.0, 3.3), (0.01, 100)]],
    "t_isf": [[p, df, float(stats.t.isf(p, df))] for p, df in [(0.025, 2), (0.025, 4), (0.2, 10), (0.025, 18), (0.005, 7.5)]],
    "norm_isf": [[p, float(stats.norm.isf(p))] for p in [0.5, 0.2, 0.025, 0.001, 1e-8]],
    "betainc": [[a, b, x, float(special.betainc(a, b, x))] for a, b, x in [(0.5, 0.5, 0.3), (2, 3, 0.4), (10, 0.5, 0.9), (50, 60, 0.45), (1.5, 20, 0.02), (1096, 168000, 0.0065)]],
    "gammaincc": [[a, x, float(special.gammaincc(a, x))] for a, x in [(0.5, 0.1), (0.5, 2), (0.5, 30), (3, 2.5), (10, 15)]],
}

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
