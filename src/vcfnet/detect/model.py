"""The vertebra detector: a centre-point network or a torchvision R-CNN; the level a body looks like; six landmarks.

Architectures (``ARCHS``; the first is the default, chosen by measurement: docs/DETECTION.md):

- ``centernet``: ``detect.heatmap.CentreNet``, a small residual encoder-decoder in plain torch (one grey
  channel, output stride 4) with heads for the centre heat map, the level, the box size and the six
  landmarks as offsets from the centre; films are scaled so the short side is ``min_size`` first;
- the torchvision (BSD-3-Clause) R-CNNs, built with ``weights=None`` unless an ImageNet backbone is asked
  for (``pretrained_backbone``, torchvision's MobileNetV3 weights, BSD):
- ``keypointrcnn_mobilenet_v3``: MobileNetV3-Large FPN, Faster R-CNN boxes and classes plus a
  Keypoint R-CNN head, lightened to four 128-channel convolutions (torchvision's has eight of 512), that
  predicts the six endplate landmarks of each body;
- ``fasterrcnn_mobilenet_v3``: boxes and classes only; landmarks are then read off the box
  (``points_from_box``: its corners and edge midpoints), a coarse stand-in for morphometry.

Classes: background 0, then ``DETECT_LEVELS`` (T10..L5 and S1): the level a body looks like, which
``detect.levels`` checks against the count from S1. Radiographs go in as 3 identical grey channels.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vcfnet.errors import VcfnetError

ARCHS = ("centernet", "keypointrcnn_mobilenet_v3", "fasterrcnn_mobilenet_v3")
DETECT_LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")
NO_LEVEL = -1        # a training body's label where its level is none of DETECT_LEVELS (a transitional T13 / L6)
NUM_KEYPOINTS = 6
KEYPOINT_CHANNELS = (128, 128, 128, 128)


def build_detector(arch: str = ARCHS[0], *, min_size: int = 512, max_size: int = 1024,
                   pretrained_backbone: bool = False) -> nn.Module:
    """A detector for ``len(DETECT_LEVELS)`` level classes; images are resized to ``min_size`` (short
    side) within ``max_size`` (long side)."""
    if is_heatmap(arch):
        from vcfnet.detect.heatmap import CentreNet

        return CentreNet(levels=len(DETECT_LEVELS))
    from torchvision.models import MobileNet_V3_Large_Weights
    from torchvision.models.detection import FasterRCNN, KeypointRCNN
    from torchvision.models.detection.backbone_utils import mobilenet_backbone
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    if arch not in ARCHS:
        raise VcfnetError(f"Invalid detector architecture '{arch}'. Only {', '.join(ARCHS)} are supported.")
    weights = MobileNet_V3_Large_Weights.IMAGENET1K_V1 if pretrained_backbone else None
    # from scratch the batch norms must learn (torchvision freezes them, right for ImageNet statistics)
    norm = {} if pretrained_backbone else {"norm_layer": nn.BatchNorm2d}
    backbone = mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=weights, fpn=True,
                                  trainable_layers=6 if not pretrained_backbone else 3, **norm)
    # the FPN's two maps (strides 16 and 32 of MobileNetV3) plus the pool level, as torchvision's own
    # fasterrcnn_mobilenet_v3_large_fpn sets its anchors
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    # a lateral lumbar film holds about ten bodies: a few hundred proposals and 128 sampled regions per
    # image do (torchvision's defaults, 2000 and 512, are for COCO's crowds and cost 2-3x the time here)
    common = dict(num_classes=len(DETECT_LEVELS) + 1, rpn_anchor_generator=anchors, min_size=min_size,
                  max_size=max_size, box_detections_per_img=30, rpn_score_thresh=0.05,
                  rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300, rpn_pre_nms_top_n_test=300,
                  rpn_post_nms_top_n_test=100, box_batch_size_per_image=128)
    if arch == "fasterrcnn_mobilenet_v3":
        return FasterRCNN(backbone, **common)
    pool = MultiScaleRoIAlign(featmap_names=["0", "1"], output_size=14, sampling_ratio=2)
    head = KeypointRCNNHeads(backbone.out_channels, KEYPOINT_CHANNELS)
    return KeypointRCNN(backbone, keypoint_roi_pool=pool, keypoint_head=head,
                        keypoint_predictor=KeypointRCNNPredictor(KEYPOINT_CHANNELS[-1], NUM_KEYPOINTS),
                        **common)


def has_keypoints(arch: str) -> bool:
    return arch.startswith("keypointrcnn") or is_heatmap(arch)


def is_heatmap(arch: str) -> bool:
    return arch == "centernet"


def train_loss(arch: str, model: nn.Module, views: list, device: str) -> dict[str, torch.Tensor]:
    """The losses of one batch of ``detect.augment.Annotated`` views (same size for the centre-point net)."""
    if is_heatmap(arch):
        from vcfnet.detect.heatmap import STRIDE, build_targets, centre_loss

        rows, cols = views[0].pixels.shape
        x = torch.from_numpy(np.stack([v.pixels for v in views]))[:, None].to(device)
        built = [build_targets(v.boxes, v.labels, v.points, v.visible, (rows // STRIDE, cols // STRIDE), v.weight)
                 for v in views]
        t = {k: torch.from_numpy(np.stack([b[k] for b in built])).to(device) for k in built[0]}
        return centre_loss(model(x), t)
    images, targets = [], []
    for v in views:
        ok = (((v.boxes[:, 2] - v.boxes[:, 0]) >= 1) & ((v.boxes[:, 3] - v.boxes[:, 1]) >= 1)
              & (v.labels != NO_LEVEL))                   # the R-CNNs' classes are the levels
        kps = np.concatenate([v.points[ok], v.visible[ok, :, None].astype(np.float32)], -1)
        target = {"boxes": torch.from_numpy(v.boxes[ok]).reshape(-1, 4), "labels": torch.from_numpy(v.labels[ok] + 1)}
        if has_keypoints(arch):
            target["keypoints"] = torch.from_numpy(kps).reshape(-1, NUM_KEYPOINTS, 3)
        images.append(to_input(v.pixels).to(device))
        targets.append({k: t.to(device) for k, t in target.items()})
    return model(images, targets)


@torch.inference_mode()
def run_detector(arch: str, model: nn.Module, pixels: np.ndarray, min_size: int, max_size: int,
                 device: str) -> dict[str, np.ndarray | None]:
    """Scores (K,), boxes (K, 4), level indices (K,), their probabilities (K, levels) or None (the R-CNNs give
    only the winning class's score) and points (K, 6, 2) or None, in ``pixels``' coordinates."""
    if is_heatmap(arch):
        from vcfnet.detect.augment import pad_to, scaled_film
        from vcfnet.detect.heatmap import decode

        scaled, sx, sy = scaled_film(pixels, min_size, max_size)
        x = torch.from_numpy(pad_to(scaled))[None, None].to(device)
        d = decode({k: v.cpu() for k, v in model(x).items()})[0]
        to_film = np.array([sx, sy], np.float32)
        return {"scores": d["scores"], "boxes": d["boxes"] / np.tile(to_film, 2), "levels": d["levels"],
                "level_probs": d["level_probs"], "points": d["points"] / to_film}
    out = model([to_input(pixels).to(device)])[0]
    return {"scores": out["scores"].cpu().numpy(), "boxes": out["boxes"].cpu().numpy(),
            "levels": out["labels"].cpu().numpy() - 1, "level_probs": None,
            "points": out["keypoints"].cpu().numpy()[..., :2] if "keypoints" in out else None}


def to_input(pixels: np.ndarray) -> torch.Tensor:
    """(H, W) grey in [0, 1] -> (3, H, W) float tensor, the detector's input."""
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return t.unsqueeze(0).expand(3, -1, -1).contiguous()


def points_from_box(box) -> np.ndarray:
    """Six landmarks read off a box (x0, y0, x1, y1): upper and lower edge, at the left, middle and right
    (the anterior side is whichever the film shows; heights from these are the box height)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    xm = (x0 + x1) / 2
    return np.array([(x0, y0), (xm, y0), (x1, y0), (x0, y1), (xm, y1), (x1, y1)])
