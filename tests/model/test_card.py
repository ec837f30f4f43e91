"""The model card: one schema (``vcfnet.model.card``), what real training writes, old and bad cards."""
from __future__ import annotations

import inspect
import json

import pytest

from vcfnet.errors import VcfnetError
from vcfnet.model.card import CARD_VERSION, ModelCard, read_card


@pytest.fixture(scope="module")
def trained_run(shared_tiny_study, tmp_path_factory):
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.train import fit

    config = TrainConfig(epochs=2, batch_size=4, weights=None, input_size=32, amp="fp32", device="cpu",
                         lr=1e-3, seed=0, num_threads=1)
    return fit(shared_tiny_study, tmp_path_factory.mktemp("card") / "run", config)


def _rewrite(folder, **changes):
    card = json.loads((folder / "model.json").read_text())
    card.update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del card[key]
    (folder / "model.json").write_text(json.dumps(card))


def test_training_writes_every_field_of_the_schema_and_nothing_else(trained_run):
    raw = json.loads((trained_run / "model.json").read_text())
    assert set(raw) == set(ModelCard.model_fields)            # no field outside the schema
    assert raw["card_version"] == CARD_VERSION
    unset = sorted(k for k, v in raw.items() if v is None)
    assert unset == ["calibration", "clinical", "referral", "temperature"]   # filled by calibration only
    card, _ = read_card(trained_run)
    assert card.to_dict() == raw                               # the reader gives back what the writer wrote
    assert card.validation.n == 6 and card.data.n_train == 12 and card.training.world_size == 1


def test_a_card_from_before_the_schema_loads_as_version_1(trained_run, tmp_path):
    import shutil

    from vcfnet.model.checkpoint import load_checkpoint

    old = shutil.copytree(trained_run, tmp_path / "old")
    _rewrite(old, card_version=..., num_classes=...)            # as vcfnet wrote cards before the schema
    _, card = load_checkpoint(old)
    assert card.card_version == 1 and card.num_classes == 3


@pytest.mark.parametrize("changes, says", [
    ({"card_version": CARD_VERSION + 1}, "'card_version' version 4 is not one this vcfnet reads"),
    ({"input_size": "large"}, "'input_size'"),
    ({"architecture": ...}, "'architecture' is missing"),
    ({"temperature": -2.0}, "'temperature' must be a positive number"),
    ({"validation": {"epoch": 1, "loss": 0.3}}, "'validation.accuracy' is missing"),
])
def test_a_bad_card_is_one_line_naming_the_file_and_field(trained_run, tmp_path, changes, says):
    import shutil

    bad = shutil.copytree(trained_run, tmp_path / "bad")
    _rewrite(bad, **changes)
    with pytest.raises(VcfnetError) as err:
        read_card(bad)
    message = str(err.value)
    assert message.startswith(f"{bad / 'model.json'}: model card field ") and says in message
    assert "\n" not in message


def test_unknown_fields_survive_a_rewrite_but_are_not_read(trained_run, tmp_path):
    import shutil

    from vcfnet.model.card import write_card

    other = shutil.copytree(trained_run, tmp_path / "other")
    _rewrite(other, added_by_hand={"note": 1})
    card, _ = read_card(other)
    write_card(other, card.with_fields(temperature=1.5))
    again = json.loads((other / "model.json").read_text())
    assert again["added_by_hand"] == {"note": 1} and again["temperature"] == 1.5


def test_no_training_helper_takes_more_than_six_parameters():
    from vcfnet.model import train

    too_many = {name: len(inspect.signature(f).parameters) for name, f in vars(train).items()
                if inspect.isfunction(f) and f.__module__ == train.__name__
                and len(inspect.signature(f).parameters) > 6}
    assert too_many == {}


def test_a_run_without_validation_writes_a_strict_json_card(tmp_path, fast_config):
    """No val split: the card says 'not estimable' (null), not NaN, which strict JSON consumers (the
    service's /api/v1/model, browsers) refuse."""
    import importlib.util
    from pathlib import Path

    from vcfnet.model.train import fit

    spec = importlib.util.spec_from_file_location("_model_conftest", Path(__file__).parent / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    study = module.write_tiny_study(tmp_path / "noval", n_train=8, n_val=0, n_test=2)
    best = fit(study, tmp_path / "run", fast_config.replace(epochs=1))

    def refuse(name):
        raise ValueError(f"{name} in model.json")
    raw = json.loads((best / "model.json").read_text(), parse_constant=refuse)
    assert raw["validation"]["loss"] is None and raw["validation"]["accuracy"] is None
    assert raw["selected_by"] == "last epoch (no validation loss)" and read_card(best)[0].validation.n == 0
