"""Radiograph path -> Predictor agrees with crop cache (made at ingest) -> engine evaluation.

The study here is ingested by the real ``vcfnet.study.ingest`` from PNG radiographs with LabelImg
boxes; the engine's ``predict_proba`` on the cached crops is what evaluation reports.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from predict_toys import S, blob_card, write_toy_radiograph

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.model.checkpoint import save_checkpoint
from vcfnet.model.engine import predict_proba
from vcfnet.predict import PREDICTION_COLUMNS, Predictor
from vcfnet.study.dataset import load_cropset
from vcfnet.study.ingest import IngestOptions, ingest
from vcfnet.study.trace import trace_source

MARGIN = 0.15


def _study(tmp_path, crop_size: int, margin: float = MARGIN):
    """Two sources: site s1 (development, 2 films) and site s2 (external, 1 film); 3 boxes each."""
    study = tmp_path / f"study{crop_size}-{margin}"
    films = {}
    for site, cohort, seeds in (("s1", "development", (0, 1)), ("s2", "external", (2,))):
        for seed in seeds:
            png, _ = write_toy_radiograph(tmp_path / f"src-{site}", name=f"film{seed}", seed=seed)
            films[f"{site}/{png.name}"] = png
        ingest(tmp_path / f"src-{site}", study, IngestOptions(site=site, cohort=cohort, size=crop_size,
                                                             margin=margin, workers=1))
    return study, films


def _rows_of(table, study, source, png):
    """The study's rows of one film (its ``image`` column is a keyed pseudonym; ``study trace`` maps it)."""
    pseudonym = {rel: p for p, rel in trace_source(study, source)[1]}[png.name]
    return table[table["image"].str.endswith("/" + pseudonym)]


def _checkpoint(blob_model, tmp_path, crop_size: int, margin: float = MARGIN):
    model, _ = blob_model
    card = blob_card(crop_size=crop_size, crop_margin=margin)
    return save_checkpoint(tmp_path / f"ckpt{crop_size}-{margin}", model, card)


@pytest.mark.parametrize("crop_size", [S, 96])    # 96: cached crops are resized to the 64 px network input
def test_predictor_on_a_radiograph_matches_the_engine_on_the_cache(blob_model, tmp_path, crop_size):
    study, films = _study(tmp_path, crop_size)
    predictor = Predictor(_checkpoint(blob_model, tmp_path, crop_size))
    everything = load_cropset(study)
    model, _ = blob_model
    engine = predict_proba(model, everything.crops)           # what evaluation computes
    table = everything.table
    for key, png in films.items():
        site = key.split("/")[0]
        rows = _rows_of(table, study, tmp_path / f"src-{site}", png)
        assert len(rows) == 3
        boxes = rows[["x0", "y0", "x1", "y1"]].to_numpy().tolist()
        results = predictor.predict(png, boxes)
        got = np.array([[r.probabilities[c] for c in CLASSES] for r in results])
        np.testing.assert_allclose(got, engine[rows.index.to_numpy()], rtol=0, atol=1e-5)
    assert np.ptp(engine[:, 0]) > 0.1                          # the boxes get different answers

    # the check has teeth: a checkpoint claiming another crop margin gives other numbers
    other = Predictor(_checkpoint(blob_model, tmp_path, crop_size, margin=0.0))
    png = films["s1/film0.png"]
    rows = _rows_of(table, study, tmp_path / "src-s1", png)
    moved = np.array([[r.probabilities[c] for c in CLASSES]
                      for r in other.predict(png, rows[["x0", "y0", "x1", "y1"]].to_numpy().tolist())])
    assert not np.allclose(moved, engine[rows.index.to_numpy()], atol=1e-5)


def test_predict_study_writes_the_predictions_table(blob_model, tmp_path):
    study, _ = _study(tmp_path, S, margin=0.0)                 # the blob model's own crops
    predictor = Predictor(_checkpoint(blob_model, tmp_path, S, margin=0.0))
    table = predictor.predict_study(study)
    assert tuple(table.columns) == PREDICTION_COLUMNS
    assert len(table) == 9 and set(table["cohort"]) == {"development", "external"}
    assert set(table["split"]) <= {"train", "val", "test", "external"} and "external" in set(table["split"])
    everything = load_cropset(study)
    assert table["roi_id"].tolist() == everything.roi_ids
    expected = predict_proba(blob_model[0], everything.crops)
    np.testing.assert_allclose(table[["p_acute", "p_chronic", "p_pathological"]].to_numpy(), expected, atol=1e-6)
    assert (table["predicted"] == np.array(CLASSES)[expected.argmax(1)]).all()
    # boxes with a blob are 'acute' in the toy annotations; the trained blob model agrees
    assert (table["predicted"] == table["label"]).all()
    external = predictor.predict_study(study, split="external")
    pd.testing.assert_frame_equal(external.reset_index(drop=True),
                                  table[table["split"] == "external"].reset_index(drop=True))


def test_predict_study_refuses_a_cache_made_differently(blob_model, tmp_path):
    study, _ = _study(tmp_path, 96)
    predictor = Predictor(_checkpoint(blob_model, tmp_path, S))
    with pytest.raises(VcfnetError, match="96 px crops with margin 0.15.*64 px"):
        predictor.predict_study(study)
