"""The network: a torchvision backbone with a 3-way head that takes grey crops in [0, 1].

Every consumer (training, evaluation, Predictor, service) feeds the same input: float tensors
(N, 1, S, S) with values in [0, 1] (uint8 crops divided by 255; a uint8 tensor is accepted and divided
here). The grey-to-RGB step and the ImageNet mean/std normalisation happen inside ``VCFNet.forward``:
the one grey channel is broadcast against the three per-channel means and standard deviations, so the
backbone sees exactly what a 3-channel torchvision model sees for an RGB image with R = G = B (zero
padding of the first convolution included, which folding the normalisation into a 1-channel stem
would not reproduce at the borders). The backbone keeps torchvision's layout and 3-channel stem, so
ImageNet weights and torchvision state dicts load unchanged.
"""
from __future__ import annotations

import logging
import urllib.error
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Backbones accepted by ``build_model``; ResNet-18 is the study's.
ARCHITECTURES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "densenet121", "efficientnet_b0")
#: Total downsampling of each backbone (its last feature map is S / stride): a smaller input leaves its
#: last layers less than one cell (DenseNet-121 fails outright below 30 px, a ResNet degenerates to 1x1
#: maps from layer2 on), so this is the smallest ``input_size`` training accepts.
OUTPUT_STRIDE: dict[str, int] = {arch: 32 for arch in ARCHITECTURES}
#: Largest input side accepted: 1024 px is 21x the pixels (and activation memory) of the study's 224.
MAX_INPUT_SIZE = 1024
NORMALISATION = ("grey [0,1] broadcast to 3 channels inside the model, then ImageNet mean "
                 f"{list(IMAGENET_MEAN)} / std {list(IMAGENET_STD)} per channel")


class VCFNet(nn.Module):
    """Backbone + head. ``forward(x)``: (N, 1, S, S) float in [0, 1] (or uint8) -> (N, C) logits."""

    mean: torch.Tensor      # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, backbone: nn.Module, arch: str, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.arch = arch
        self.num_classes = num_classes
        #: side the model was trained at (set from the card); other crop sizes are resized to it
        self.input_size: int | None = None
        # non-persistent: the state dict stays exactly backbone.<torchvision keys>
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"VCFNet expects grey crops of shape (N, 1, S, S), got {tuple(x.shape)}")
        x = (x - self.mean) / self.std          # (N,1,S,S) against (1,3,1,1) -> (N,3,S,S)
        if _stem_weight(self).is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone(x)


def _stem_weight(model: VCFNet) -> torch.Tensor:
    return next(p for p in model.backbone.parameters() if p.ndim == 4)


def _replace_head(module: nn.Module, arch: str, num_classes: int) -> None:
    backbone: Any = module      # a torchvision model: its head attributes are typed as plain Module attributes
    if arch.startswith("resnet"):
        backbone.fc = nn.Linear(backbone.fc.in_features, num_classes)
    elif arch.startswith("densenet"):
        backbone.classifier = nn.Linear(backbone.classifier.in_features, num_classes)
    else:  # efficientnet: Sequential(Dropout, Linear)
        backbone.classifier[-1] = nn.Linear(backbone.classifier[-1].in_features, num_classes)


def _head_prefixes(arch: str) -> tuple[str, ...]:
    return ("fc.",) if arch.startswith("resnet") else ("classifier.",)


def build_model(arch: str = "resnet18", *, num_classes: int = len(CLASSES),
                weights: str | Path | None = None) -> VCFNet:
    """Build ``arch`` with a ``num_classes`` head.

    ``weights``: ``None`` (random init), ``"imagenet"`` (torchvision's own weights, from torch's hub
    cache or downloaded there) or the path of a torchvision-layout state dict (``.safetensors``, or a
    ``.pth`` read with ``torch.load(weights_only=True)``). A head whose shape does not fit
    ``num_classes`` (the 1000-way ImageNet head) is left freshly initialised.
    """
    import torchvision

    if arch not in ARCHITECTURES:
        raise VcfnetError(f"Invalid architecture '{arch}'. Only {', '.join(ARCHITECTURES)} are supported.")
    backbone = torchvision.models.get_model(arch, weights=None)
    _replace_head(backbone, arch, num_classes)
    model = VCFNet(backbone, arch, num_classes)
    if weights is None or str(weights).lower() == "none":
        return model
    state = imagenet_state_dict(arch) if str(weights).lower() == "imagenet" else read_state_dict(weights)
    load_backbone_state(model, state, source=str(weights))
    return model


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ``arch``: from the hub cache, downloading them if missing."""
    from torchvision.models import get_model_weights

    enum = get_model_weights(arch).DEFAULT
    target = Path(torch.hub.get_dir()) / "checkpoints" / Path(enum.url).name
    if not target.is_file():
        match = torch.hub.HASH_REGEX.search(target.name)   # torchvision names carry a SHA-256 prefix
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(enum.url, str(target), hash_prefix=match.group(1) if match else None,
                                           progress=False)
        except (urllib.error.URLError, OSError, RuntimeError) as exc:   # RuntimeError: hash mismatch
            raise VcfnetError(
                f"cannot get the ImageNet weights for {arch} ({exc}). Offline, download {enum.url} "
                f"elsewhere and place it at {target} (or set TORCH_HOME), or pass --weights PATH "
                f"or --weights none") from None
    try:
        return torch.load(target, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: the unpickler raises many kinds
        raise VcfnetError(f"{target}: not a valid {arch} weights file ({type(exc).__name__}: {exc}); "
                          f"delete it and download {enum.url} again") from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise VcfnetError(f"weights file {path} does not exist (expected imagenet, none or a state dict path)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path), device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's input problem
        raise VcfnetError(f"{path}: cannot be read as a state dict ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VcfnetError(f"{path}: is not a state dict of tensors")
    return state


def load_backbone_state(model: VCFNet, state: dict[str, torch.Tensor], *, source: str) -> None:
    """Load torchvision-layout (or ``backbone.``/``module.``-prefixed) weights into ``model``."""
    clean = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            key = key[len(prefix):] if key.startswith(prefix) else key
        clean[key] = value
    own = model.backbone.state_dict()
    head = _head_prefixes(model.arch)
    skipped = [k for k in clean if k.startswith(head) and k in own and clean[k].shape != own[k].shape]
    for k in skipped:
        del clean[k]
    missing, unexpected = model.backbone.load_state_dict(clean, strict=False)
    bad_missing = [k for k in missing if not k.startswith(head)]
    if bad_missing or unexpected:
        raise VcfnetError(f"{source}: does not fit a {model.arch} (missing {bad_missing[:3]}, "
                          f"unexpected {list(unexpected)[:3]})")
    if skipped:
        log.info("%s: head %s has another number of classes; it starts fresh", source, skipped)


def unwrap(model: nn.Module) -> VCFNet:
    """The VCFNet inside a DistributedDataParallel and/or ``torch.compile`` wrapper."""
    inner: Any = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def target_layer(model: nn.Module) -> nn.Module:
    """The last convolutional block, where Grad-CAM looks (``layer4`` of a ResNet)."""
    model = unwrap(model)
    backbone: Any = model.backbone      # a torchvision model (layer4 / features)
    if model.arch.startswith("resnet"):
        return backbone.layer4[-1]
    if model.arch.startswith("densenet"):
        return backbone.features
    return backbone.features[-1]
