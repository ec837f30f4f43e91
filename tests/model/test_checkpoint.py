"""Checkpoints: identical logits after save/load, refusals of incompatible or damaged files."""
import json

import numpy as np
import pytest
import torch

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.model.checkpoint import load_checkpoint, save_checkpoint
from vcfnet.model.engine import predict_logits
from vcfnet.model.network import build_model
from vcfnet.preprocess import PREPROCESSING_VERSION


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_model(weights=None)
    # make BatchNorm running statistics non-trivial so that buffers must round-trip too
    model.train()
    with torch.no_grad():
        model(torch.rand(8, 1, 32, 32))
    model.eval()
    out = save_checkpoint(tmp_path / "ckpt", model, {"input_size": 32, "custom": {"a": 1}})
    return model, out


def test_save_load_gives_identical_logits_and_a_full_card(saved):
    model, out = saved
    crops = np.random.default_rng(0).integers(0, 256, (5, 1, 32, 32), dtype=np.uint8)
    loaded, card = load_checkpoint(out)
    assert not loaded.training
    # loading puts the weights in channels_last (inference layout); compare in the same layout
    model = model.to(memory_format=torch.channels_last)
    np.testing.assert_array_equal(predict_logits(loaded, crops), predict_logits(model, crops))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert card.classes == list(CLASSES) and card.architecture == "resnet18"
    assert card.preprocessing_version == PREPROCESSING_VERSION and card.input_size == 32
    assert card.temperature is None and card.to_dict()["custom"] == {"a": 1}
    assert {"vcfnet", "torch", "torchvision", "python"} <= set(card.software)
    assert "research" in card.intended_use.lower() and "not a medical device" in card.intended_use
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.safetensors"]
    # the same checkpoint is reachable through either file
    assert load_checkpoint(out / "model.json")[1].weights_sha256 == card.weights_sha256


def test_weights_file_is_not_a_pickle(saved):
    _, out = saved
    from safetensors.torch import load_file
    assert "backbone.conv1.weight" in load_file(str(out / "model.safetensors"))


def test_refuses_other_preprocessing_version(saved):
    _, out = saved
    card = json.loads((out / "model.json").read_text())
    card["preprocessing_version"] = "0"
    (out / "model.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="preprocessing version 0.*makes version"):
        load_checkpoint(out)


def test_refuses_corrupt_weights(saved):
    _, out = saved
    data = (out / "model.safetensors").read_bytes()
    (out / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(VcfnetError, match="corrupt or was replaced"):
        load_checkpoint(out)
    # without the recorded hash, safetensors itself must still refuse the truncated file
    card = json.loads((out / "model.json").read_text())
    del card["weights_sha256"]
    (out / "model.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="not a valid safetensors file"):
        load_checkpoint(out)


def test_refuses_missing_or_broken_card(tmp_path, saved):
    with pytest.raises(VcfnetError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "empty")
    _, out = saved
    (out / "model.json").write_text("{not json")
    with pytest.raises(VcfnetError, match="not a valid model card"):
        load_checkpoint(out)


def test_refuses_weights_of_another_architecture(saved):
    _, out = saved
    card = json.loads((out / "model.json").read_text())
    card["architecture"] = "resnet34"
    del card["weights_sha256"]
    (out / "model.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="do not fit a resnet34"):
        load_checkpoint(out)


def _resave(path, tensors, metadata):
    from safetensors.torch import save_file
    save_file(tensors, str(path), metadata=metadata)


def test_weights_hash_ignores_file_metadata_order_and_sees_every_weight(saved, tmp_path):
    from safetensors.torch import load_file

    from vcfnet.model.checkpoint import tensors_sha256

    _, out = saved
    card = json.loads((out / "model.json").read_text())
    assert card["weights_hash"] == "tensors-v1"
    tensors = load_file(str(out / "model.safetensors"))
    _resave(tmp_path / "a.safetensors", tensors, {"format": "pt", "architecture": "resnet18", "x": "1"})
    _resave(tmp_path / "b.safetensors", dict(reversed(list(tensors.items()))),
            {"x": "1", "architecture": "resnet18", "format": "pt"})
    a, b = (load_file(str(tmp_path / f"{n}.safetensors")) for n in "ab")
    assert tensors_sha256(a) == tensors_sha256(b) == card["weights_sha256"]
    # the card still proves the weights when the file around them was written again
    (out / "model.safetensors").write_bytes((tmp_path / "b.safetensors").read_bytes())
    load_checkpoint(out)
    a["backbone.fc.bias"][0] += 1e-6
    assert tensors_sha256(a) != card["weights_sha256"]
    _resave(out / "model.safetensors", a, {"format": "pt"})
    with pytest.raises(VcfnetError, match="corrupt or was replaced"):
        load_checkpoint(out)
    # the same values under another dtype or shape are other weights
    changed = dict(b, **{"backbone.fc.bias": b["backbone.fc.bias"].double()})
    assert tensors_sha256(changed) != tensors_sha256(b)
    assert tensors_sha256(dict(b, **{"backbone.fc.bias": b["backbone.fc.bias"].view(1, -1)})) != tensors_sha256(b)


def test_two_saves_of_the_same_model_carry_the_same_hash(saved, tmp_path):
    model, out = saved
    hashes = {json.loads((save_checkpoint(tmp_path / f"c{i}", model, {"input_size": 32}) / "model.json")
                         .read_text())["weights_sha256"] for i in range(6)}
    assert hashes == {json.loads((out / "model.json").read_text())["weights_sha256"]}


def test_old_card_with_a_file_hash_still_loads_and_is_verified(saved):
    from vcfnet.fileio import file_sha256

    _, out = saved
    card = json.loads((out / "model.json").read_text())
    del card["weights_hash"]                       # as vcfnet wrote cards before hashing tensors
    card["weights_sha256"] = file_sha256(out / "model.safetensors")
    (out / "model.json").write_text(json.dumps(card))
    load_checkpoint(out)
    card["weights_sha256"] = "0" * 64
    (out / "model.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="corrupt or was replaced"):
        load_checkpoint(out)
    card["weights_hash"] = "tensors-v9"
    (out / "model.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="weights_hash 'tensors-v9'.*file, tensors-v1"):
        load_checkpoint(out)
