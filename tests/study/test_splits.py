import numpy as np
import pandas as pd

from vcfnet.labels import CLASSES
from vcfnet.study.splits import SplitConfig, assign_splits, holdout_groups, split_checks


def _table(n_patients=200, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        cohort = "development" if p < 140 else "external"
        site = "site1" if cohort == "development" else f"site{2 + p % 3}"
        for k in range(rng.integers(1, 4)):
            rows.append({"roi_id": f"r{p}-{k}", "patient_id": f"P{p}", "cohort": cohort, "site": site,
                         "label": CLASSES[rng.choice(3, p=[0.5, 0.42, 0.08])]})
    return pd.DataFrame(rows)


def test_no_patient_on_two_sides_and_fractions():
    table = _table()
    splits = assign_splits(table, SplitConfig(seed=3))
    checks = split_checks(table, splits)
    assert checks["patient_overlap"] == {"train&test": 0, "train&val": 0, "val&test": 0}
    merged = table.merge(splits, on="roi_id")
    dev_patients = merged[merged.cohort == "development"].patient_id.nunique()
    test_patients = merged[merged.split == "test"].patient_id.nunique()
    assert abs(test_patients / dev_patients - 0.2) < 0.05
    # every patient's vertebrae share one split
    assert (merged.groupby("patient_id")["split"].nunique() == 1).all()
    # external rows are never train/val/test; collaboration only from external
    assert set(merged[merged.cohort == "external"].split) == {"external"}
    assert merged[merged.collaboration == 1].cohort.eq("external").all()
    collab = merged[merged.cohort == "external"].groupby("patient_id")["collaboration"].first()
    assert 0.2 < collab.mean() < 0.4


def test_stratified_by_class():
    table = _table(600, seed=1)
    merged = table.merge(assign_splits(table, SplitConfig()), on="roi_id")
    dev = merged[merged.cohort == "development"]
    share = lambda g: (g.label == "pathological").mean()  # noqa: E731
    assert abs(share(dev[dev.split == "test"]) - share(dev)) < 0.04


def test_seeded_and_recorded():
    table = _table()
    a = assign_splits(table, SplitConfig(seed=5))
    b = assign_splits(table, SplitConfig(seed=5))
    c = assign_splits(table, SplitConfig(seed=6))
    assert a.equals(b)
    assert not a.equals(c)


def test_tiny_group_counts_keep_both_sides():
    labels = np.array(["acute", "chronic", "acute"])
    groups = np.array(["a", "b", "c"])
    mask = holdout_groups(labels, groups, 0.2, seed=0)
    assert mask.sum() == 1
    assert not holdout_groups(labels[:1], groups[:1], 0.2, seed=0).any()


def _many_patients(src, n=16):
    from study_sources import write_voc_pair

    src.mkdir()
    lines = []
    for i in range(n):
        label = ("acute", "chronic", "pathological")[i % 3]
        write_voc_pair(src, f"img{i}", [(label, "L1", 20, 30, 70, 60)], seed=i)
        lines.append(f"img{i}.png,PAT{i},{60 + i},F,2020-01-01")
    (src / "metadata.csv").write_text("image,patient_id,age,sex,exam_date\n" + "\n".join(lines) + "\n")
    return src


def _split_by_content(study):
    """split of each ROI keyed by what does not depend on the study's secret: image content + box."""
    from vcfnet.study.cache import read_cache
    from vcfnet.study.dataset import load_table

    table, cache = load_table(study), read_cache(study)
    content = dict(zip(cache.roi_ids, cache.hashes))
    return {content[r]: s for r, s in zip(table["roi_id"], table["split"])}


def test_split_is_a_function_of_the_data_and_the_seed_not_of_the_secret(tmp_path, monkeypatch):
    from vcfnet.io import deid
    from vcfnet.study.ingest import IngestOptions, ingest
    from vcfnet.study.splits import write_splits

    src = _many_patients(tmp_path / "src")
    splits = {}
    for name, fill in (("a", 1), ("b", 2)):       # two studies, two (fixed) secret keys
        monkeypatch.setattr(deid.secrets, "token_bytes", lambda n, fill=fill: bytes([fill]) * n)
        ingest(src, tmp_path / name, IngestOptions(site="site1", cohort="development", size=16, workers=1,
                                                   split=SplitConfig(seed=3, test_fraction=0.3)))
        splits[name] = _split_by_content(tmp_path / name)
    assert (tmp_path / "a" / "secret.key").read_bytes() != (tmp_path / "b" / "secret.key").read_bytes()
    assert splits["a"] == splits["b"]
    assert {"train", "test"} <= set(splits["a"].values())
    write_splits(tmp_path / "b", SplitConfig(seed=4, test_fraction=0.3))
    assert _split_by_content(tmp_path / "b") != splits["a"]


def test_patient_identity_is_one_per_patient_even_when_some_files_are_unknown():
    from vcfnet.study.splits import patient_identity

    table = pd.DataFrame({"image": ["s/a", "s/b", "s/c", "s/d"], "site": "x",
                          "patient_id": ["P1", "P1", "P2", "P3"]})
    sources = {"s": {"files": {"a": [1, 2, "h-a"], "c": [1, 2, "h-c"]}}}
    identity = patient_identity(table, sources)
    assert identity[0] == identity[1] == "x|h-a" and identity[2] == "x|h-c" and identity[3] == "P3"
