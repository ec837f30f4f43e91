"""The network factory: input convention, weight loading, offline ImageNet error, Grad-CAM layer."""
import urllib.error

import pytest
import torch
import torchvision

from vcfnet.errors import VcfnetError
from vcfnet.model.network import IMAGENET_MEAN, IMAGENET_STD, build_model, target_layer


def test_forward_equals_torchvision_on_normalised_rgb():
    """Grey in [0,1] inside == the same backbone fed R=G=B with ImageNet normalisation outside."""
    torch.manual_seed(0)
    model = build_model(weights=None).eval()
    x = torch.rand(2, 1, 64, 64)
    rgb = x.expand(-1, 3, -1, -1)
    normed = (rgb - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.backbone(normed))
        assert model(x).shape == (2, 3)
        # uint8 crops are accepted and divided by 255 inside
        u8 = (x * 255).round().to(torch.uint8)
        torch.testing.assert_close(model(u8), model(u8.float() / 255))


def test_rejects_rgb_input():
    with pytest.raises(ValueError, match="grey crops"):
        build_model(weights=None)(torch.rand(1, 3, 32, 32))


def test_loads_a_torchvision_state_dict_and_starts_a_fresh_head(tmp_path):
    torch.manual_seed(1)
    tv = torchvision.models.resnet18(weights=None)        # 1000-class head, torchvision layout
    path = tmp_path / "resnet18.pth"
    torch.save(tv.state_dict(), path)
    model = build_model(weights=str(path))
    assert torch.equal(model.backbone.conv1.weight, tv.conv1.weight)
    assert torch.equal(model.backbone.layer4[1].bn2.running_mean, tv.layer4[1].bn2.running_mean)
    assert model.backbone.fc.out_features == 3


def test_safetensors_state_dict_and_wrong_architecture(tmp_path):
    from safetensors.torch import save_file
    tv = torchvision.models.resnet34(weights=None)
    path = tmp_path / "r34.safetensors"
    save_file({k: v.contiguous() for k, v in tv.state_dict().items()}, str(path))
    assert build_model("resnet34", weights=str(path)).backbone.layer3[5] is not None
    with pytest.raises(VcfnetError, match="does not fit a resnet18"):
        build_model("resnet18", weights=str(path))


def test_unknown_architecture_and_missing_weights_file(tmp_path):
    with pytest.raises(VcfnetError, match="Only resnet18"):
        build_model("vgg11")
    with pytest.raises(VcfnetError, match="does not exist"):
        build_model(weights=str(tmp_path / "nope.pth"))


def test_imagenet_offline_says_which_file_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(VcfnetError) as info:
        build_model(weights="imagenet")
    message = str(info.value)
    assert str(expected) in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message


def test_imagenet_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    """A file placed where the offline message says is used without any download."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("must not download when the file is cached"))
    torch.manual_seed(2)
    tv = torchvision.models.resnet18(weights=None)
    target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    torch.save(tv.state_dict(), target)
    model = build_model(weights="imagenet")
    assert torch.equal(model.backbone.layer1[0].conv1.weight, tv.layer1[0].conv1.weight)
    target.write_bytes(b"truncated")
    with pytest.raises(VcfnetError, match="not a valid resnet18 weights file"):
        build_model(weights="imagenet")


def test_target_layer_is_last_resnet_block():
    model = build_model(weights=None)
    assert target_layer(model) is model.backbone.layer4[-1]
