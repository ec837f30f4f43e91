"""How real do the synthetic crops look? Simple image statistics and a domain probe (numpy only).

Every crop is compared the way the model sees it: the vertebra's box (plus the study's margin) cut out
with ``vcfnet.preprocess.crop_roi`` and stretched to 96 x 96 grey values in [0, 1]. On each crop:

- ``contrast``      standard deviation of the grey values
- ``laplacian``     mean absolute 4-neighbour Laplacian (fine structure and noise)
- ``gradient_p90``  90th percentile of the central-difference gradient magnitude (edge sharpness)
- ``saturated``     share of pixels below 0.03 or above 0.97 (clipped black or white)
- ``entropy``       entropy (nats) of the 32-bin grey-level histogram on [0, 1]
- ``hf_share``      share of the (mean-removed, Hann-windowed) power spectrum above 0.25 cycles/pixel

``probe_auc`` is the domain probe: an L2 logistic regression (C = 1 on standardised statistics, as
scikit-learn's default) that tries to tell synthetic from real crops, scored by the ROC AUC averaged
over stratified 5-fold cross-validation. 0.5 = indistinguishable, 1.0 = separated perfectly.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vcfnet.errors import VcfnetError

SIZE = 96
STATISTICS: tuple[str, ...] = ("contrast", "laplacian", "gradient_p90", "saturated", "entropy", "hf_share")
LABELS = {
    "contrast": "contrast (std of grey values)",
    "laplacian": "mean absolute Laplacian",
    "gradient_p90": "90th-percentile gradient magnitude",
    "saturated": "share of saturated pixels (< 0.03 or > 0.97)",
    "entropy": "grey-level histogram entropy (32 bins)",
    "hf_share": "high-frequency power share (> 0.25 cycles/px)",
}


def crop_statistics(crop: np.ndarray) -> dict[str, float]:
    """The realism statistics of one crop: (96, 96) grey values in [0, 1] (uint8 is scaled by 1/255)."""
    g = np.asarray(crop, dtype=np.float64)
    if np.asarray(crop).dtype == np.uint8:
        g = g / 255.0
    if g.ndim != 2 or min(g.shape) < 8:
        raise ValueError(f"expected a 2-D grey crop, got shape {g.shape}")
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    gy, gx = np.gradient(g)
    hist, _ = np.histogram(g, bins=32, range=(0.0, 1.0))
    p = hist[hist > 0] / g.size
    return {
        "contrast": float(g.std()),
        "laplacian": float(np.abs(lap).mean()),
        "gradient_p90": float(np.percentile(np.hypot(gx, gy), 90)),
        "saturated": float(((g < 0.03) | (g > 0.97)).mean()),
        "entropy": float(-(p * np.log(p)).sum()),
        "hf_share": _hf_share(g),
    }


def _hf_share(g: np.ndarray) -> float:
    win = np.outer(np.hanning(g.shape[0]), np.hanning(g.shape[1]))
    power = np.abs(np.fft.fft2((g - g.mean()) * win)) ** 2
    fy = np.fft.fftfreq(g.shape[0])[:, None]
    fx = np.fft.fftfreq(g.shape[1])[None, :]
    total = power.sum()
    return float(power[np.hypot(fy, fx) > 0.25].sum() / total) if total > 0 else 0.0


def statistics_matrix(crops) -> np.ndarray:
    """(n, 6) array of ``STATISTICS`` for an iterable of crops."""
    rows = [[s[k] for k in STATISTICS] for s in map(crop_statistics, crops)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(STATISTICS))


def real_crops(samples: str | Path, size: int = SIZE) -> list[np.ndarray]:
    """The ready-made crops of an ImageFolder tree (``train/{Acute,Chronic,Pathologic}/*.png``), 96 x 96."""
    from vcfnet.io import read_radiograph
    from vcfnet.preprocess import crop_roi

    files = sorted(p for p in Path(samples).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise VcfnetError(f"{samples}: no .png/.jpg crops found")
    return [crop_roi(read_radiograph(f).pixels, None, size=size) for f in files]


def synthetic_crops(study: str | Path, size: int = SIZE, margin: float = 0.1,
                    limit: int | None = None) -> list[np.ndarray]:
    """Crops of the fractured vertebrae of a ``vcfnet synth`` folder, cut as ingest cuts them.

    Files in name order; with ``limit``, an equal share of it from each source (all sites).
    """
    from vcfnet.io import read_radiograph, read_voc
    from vcfnet.preprocess import crop_roi

    root = Path(study)
    try:
        sources = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["sources"]
    except (OSError, ValueError, KeyError) as exc:
        raise VcfnetError(f"{root}: no readable manifest.json of `vcfnet synth` ({exc})") from exc
    share = None if limit is None else -(-limit // len(sources))
    out: list[np.ndarray] = []
    for src in sources:
        mine: list[np.ndarray] = []
        for xml in sorted((root / src["path"]).glob("*.xml")):
            if share is not None and len(mine) >= share:
                break
            ann = read_voc(xml)
            pixels = read_radiograph(xml.parent / ann.filename).pixels
            mine += [crop_roi(pixels, (b.x0, b.y0, b.x1, b.y1), size=size, margin=margin) for b in ann.boxes]
        out += mine[:share]
    return out[:limit]


def stratified_folds(y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (0 .. folds-1) of every row: each class dealt round-robin over the folds in random order."""
    fold = np.empty(len(y), dtype=int)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % folds
    return fold


def probe_auc(real: np.ndarray, synthetic: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a logistic regression telling ``synthetic`` rows from ``real`` rows.

    Stratified ``folds``-fold split (shuffled with ``seed``); features standardised on each training
    fold; L2 penalty with C = 1 (intercept not penalised); the AUC is the mean over the folds.
    """
    x = np.vstack([real, synthetic]).astype(np.float64)
    y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
    if min(len(real), len(synthetic)) < folds:
        raise ValueError(f"need at least {folds} crops of each kind, got {len(real)} real, {len(synthetic)} synthetic")
    fold = stratified_folds(y, folds, np.random.default_rng(seed))
    aucs = []
    for k in range(folds):
        train, test = fold != k, fold == k
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-12
        w = _fit_logistic((x[train] - mu) / sd, y[train])
        score = _design((x[test] - mu) / sd) @ w
        aucs.append(auc(y[test], score))
    return float(np.mean(aucs))


def _design(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def _fit_logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0, iters: int = 100) -> np.ndarray:
    """Newton's method on sum(log-loss) + ||w||^2 / (2C), the intercept (last weight) unpenalised."""
    a = _design(x)
    w = np.zeros(a.shape[1])
    pen = np.full(a.shape[1], 1.0 / c)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -35, 35)))
        grad = a.T @ (p - y) + pen * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties count a half)."""
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        raise ValueError("AUC needs both classes")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def compare(real: np.ndarray, synthetic: np.ndarray) -> dict:
    """Per statistic: real and synthetic mean, std and median; the median ratio; and the probe AUC."""
    rows = {}
    for j, name in enumerate(STATISTICS):
        r, s = real[:, j], synthetic[:, j]
        rows[name] = {"real_mean": float(r.mean()), "real_std": float(r.std(ddof=1)),
                      "real_median": float(np.median(r)), "synth_mean": float(s.mean()),
                      "synth_std": float(s.std(ddof=1)), "synth_median": float(np.median(s)),
                      "median_ratio": float(np.median(s) / np.median(r)) if np.median(r) > 0 else None}
    return {"statistics": rows, "probe_auc": probe_auc(real, synthetic), "n_real": len(real),
            "n_synthetic": len(synthetic)}


def format_table(result: dict) -> str:
    """The comparison as a Markdown table (mean +- std; median ratio synthetic / real)."""
    lines = [f"| statistic | real crops (n={result['n_real']}) | synthetic crops (n={result['n_synthetic']}) "
             f"| median ratio |", "|---|---|---|---|"]
    for name, row in result["statistics"].items():
        ratio = "real median 0" if row["median_ratio"] is None else f"{row['median_ratio']:.2f}"
        lines.append(f"| {LABELS[name]} | {row['real_mean']:.3f} ± {row['real_std']:.3f} | "
                     f"{row['synth_mean']:.3f} ± {row['synth_std']:.3f} | {ratio} |")
    lines.append(f"\ndomain-probe AUC (logistic regression, 5-fold CV): {result['probe_auc']:.3f}")
    return "\n".join(lines)
