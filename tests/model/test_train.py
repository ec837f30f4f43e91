"""Training: finite first step, overfitting a tiny set, determinism, resume, run folder contents."""
import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vcfnet.errors import VcfnetError
from vcfnet.model.checkpoint import load_checkpoint
from vcfnet.model.config import TrainConfig, load_config
from vcfnet.model.engine import evaluate, train_one_epoch
from vcfnet.model.network import build_model
from vcfnet.model.train import class_weights, epoch_order, fit, load_data


def _weights(ckpt_dir):
    return load_file(str(ckpt_dir / "model.safetensors"))


def test_one_step_gives_finite_loss_and_changes_weights():
    torch.manual_seed(0)
    model = build_model(weights=None)
    before = model.backbone.fc.weight.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crops = torch.randint(0, 256, (4, 1, 32, 32), dtype=torch.uint8)
    out = train_one_epoch(model, torch.nn.CrossEntropyLoss(), opt, crops, torch.tensor([0, 1, 2, 0]),
                          torch.arange(4), batch_size=4, device=torch.device("cpu"),
                          augment={"hflip": True, "vflip": True, "rotation": 15.0},
                          generator=torch.Generator().manual_seed(0))
    assert np.isfinite(out["loss"]) and out["n"] == 4 and out["img_per_s"] > 0
    assert not torch.equal(before, model.backbone.fc.weight)


def test_overfits_a_tiny_two_class_set(tiny_study, fast_config):
    data = load_data(tiny_study)
    config = fast_config.replace(epochs=8, hflip=False, vflip=False, rotation=0.0)
    best = fit(tiny_study, tiny_study.parent / "run", config)
    model, card = load_checkpoint(tiny_study.parent / "run" / "last")
    train = evaluate(model, data.train_crops, data.train_labels)
    assert train["accuracy"] == 1.0, train
    assert card.validation.accuracy >= 0.5 and best.name == "best"


def test_run_folder_log_card_and_config(tiny_study, fast_config):
    run = tiny_study.parent / "run"
    fit(tiny_study, run, fast_config.replace(epochs=2, class_balance="weighted_loss"))
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "img_per_s", "seconds"]
    assert all(np.isfinite(float(r["val_loss"])) for r in rows)
    card = json.loads((run / "best" / "model.json").read_text())
    best_row = min(rows, key=lambda r: float(r["val_loss"]))
    assert card["validation"]["epoch"] == int(best_row["epoch"])
    assert card["validation"]["loss"] == pytest.approx(float(best_row["val_loss"]), rel=1e-5)
    assert card["data"]["n_train"] == 12 and card["data"]["n_val"] == 6
    assert card["data"]["train_class_counts"] == {"acute": 6, "chronic": 6, "pathological": 0}
    assert card["data"]["fingerprint"].startswith("sha256:")
    assert "weighted" in card["class_balance"] and card["training"]["amp"] == "fp32"
    assert card["training_config"]["class_balance"] == "weighted_loss"
    assert load_config(run / "config.yaml") == fast_config.replace(epochs=2, class_balance="weighted_loss")
    with pytest.raises(VcfnetError, match="already holds a training run"):
        fit(tiny_study, run, fast_config)


def test_same_seed_same_weights_on_cpu(tiny_study, fast_config):
    config = fast_config.replace(epochs=1)
    fit(tiny_study, tiny_study.parent / "a", config)
    fit(tiny_study, tiny_study.parent / "b", config)
    fit(tiny_study, tiny_study.parent / "c", config.replace(seed=1))
    a, b, c = (_weights(tiny_study.parent / x / "last") for x in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # the cards prove it: bit-identical weights carry one hash (the file's metadata order varies)
    h = {x: json.loads((tiny_study.parent / x / "last" / "model.json").read_text())["weights_sha256"] for x in "abc"}
    assert h["a"] == h["b"] != h["c"]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tiny_study, fast_config):
    straight = tiny_study.parent / "straight"
    fit(tiny_study, straight, fast_config.replace(epochs=3))
    split = tiny_study.parent / "split"
    fit(tiny_study, split, fast_config.replace(epochs=2))
    fit(tiny_study, split, fast_config.replace(epochs=3, resume=True))
    a, b = _weights(straight / "last"), _weights(split / "last")
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    assert open(straight / "log.csv").read().count("\n") == open(split / "log.csv").read().count("\n") == 4
    with pytest.raises(VcfnetError, match=r"different settings \(lr\)"):
        fit(tiny_study, split, fast_config.replace(epochs=4, lr=0.5, resume=True))


def test_damaged_state_is_refused_on_resume(tiny_study, fast_config):
    run = tiny_study.parent / "run"
    fit(tiny_study, run, fast_config.replace(epochs=1))
    (run / "state" / "state.safetensors").write_bytes(b"garbage")
    with pytest.raises(VcfnetError, match="cannot resume"):
        fit(tiny_study, run, fast_config.replace(epochs=2, resume=True))


def test_class_balance_helpers():
    labels = np.array([0] * 6 + [1] * 3 + [2])
    w = class_weights(labels)
    torch.testing.assert_close(w, torch.tensor([10 / 18, 10 / 9, 10 / 3]))
    config = TrainConfig(class_balance="sampler", seed=0)
    draws = torch.cat([epoch_order(labels, config, e) for e in range(300)])
    share = np.bincount(labels[draws.numpy()], minlength=3) / len(draws)
    np.testing.assert_allclose(share, [1 / 3] * 3, atol=0.03)   # classes drawn equally often
    order = epoch_order(labels, TrainConfig(seed=0), 0)
    assert sorted(order.tolist()) == list(range(10))              # default: a permutation


def test_test_split_is_not_in_the_training_data(tiny_study):
    data = load_data(tiny_study)
    assert data.info["n_train"] + data.info["n_val"] == 18   # the 4 test ROIs are left out
