"""Grad-CAM heatmaps for the VCFNet model (``pytorch-grad-cam``), and their overlay on a radiograph.

    >>> explainer = GradCamExplainer(model)          # hooks a private copy of the model
    >>> heat = explainer(crops_uint8, [0, 2])        # (N, S, S) float32 in [0, 1], one per crop
    >>> rgb = overlay_heatmap(pixels, window, heat[0])

Why a private copy: pytorch-grad-cam keeps the activations of *every* forward pass through the hooked
layer in one list and reads the first entry back. A model shared with a web server's other threads
would mix their activations into it. The copy is only ever run under the explainer's lock, so plain
predictions on the original model stay lock-free and hook-free.

Why the input tensor requires grad: a loaded checkpoint may have its parameters frozen
(``requires_grad=False``); the activations of the target layer would then carry no graph and the
library would find no gradients. Asking for the input's gradient keeps the graph without training
state (and no parameter ``.grad`` buffers are allocated).

The library's ``with GradCAM(...)`` form is not used: its ``__exit__`` prints and swallows an
``IndexError``, which would hide a bug; the hooks are released explicitly instead.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Sequence

import numpy as np

#: Colour-blind-safe, perceptually uniform colormap for heatmaps (dark = low, bright yellow = high).
DEFAULT_COLORMAP = "inferno"


class GradCamExplainer:
    """Grad-CAM on ``target_layer(model)`` of a VCFNet; thread-safe (one explanation at a time)."""

    def __init__(self, model, *, device: str = "cpu"):
        from vcfnet.model.network import target_layer

        self._model = copy.deepcopy(model).to(device).eval().float()
        for p in self._model.parameters():
            p.requires_grad_(False)
        self._layer = target_layer(self._model)
        self._size = getattr(model, "input_size", None)
        self._device = device
        self._lock = threading.Lock()

    def __call__(self, crops: np.ndarray, targets: Sequence[int]) -> np.ndarray:
        """Heatmaps for ``crops`` (N, 1, S, S) uint8, each for its class index in ``targets``.

        Returns (N, s, s) float32 in [0, 1], s = the network's input size (each map scaled to its own
        maximum; all zeros when no region supports the class).
        """
        import torch
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        from vcfnet.model.augment import to_unit

        if crops.ndim != 4 or crops.shape[1] != 1 or crops.dtype != np.uint8:
            raise ValueError(f"crops must be (N, 1, S, S) uint8, got {crops.shape} {crops.dtype}")
        if len(targets) != len(crops):
            raise ValueError(f"{len(crops)} crops but {len(targets)} target classes")
        with self._lock, torch.inference_mode(False), torch.enable_grad():
            # the same float input as predictions: resized to the network's input size when it differs
            x = to_unit(torch.from_numpy(np.ascontiguousarray(crops)).to(self._device), self._size)
            x.requires_grad_(True)
            cam = GradCAM(model=self._model, target_layers=[self._layer])
            try:
                heat = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in targets])
            finally:
                cam.activations_and_grads.release()
        return np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)


def colorize(heatmap: np.ndarray, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W, 3) uint8 through a matplotlib colormap."""
    from matplotlib import colormaps

    rgba = colormaps[colormap](np.clip(heatmap, 0.0, 1.0))
    return np.rint(rgba[..., :3] * 255.0).astype(np.uint8)


def overlay_heatmap(pixels: np.ndarray, window: tuple[int, int, int, int], heatmap: np.ndarray, *,
                    alpha: float = 0.45, colormap: str = DEFAULT_COLORMAP,
                    full_image: bool = False) -> np.ndarray:
    """Blend ``heatmap`` over the crop ``window`` = (x0, y0, x1, y1) of a radiograph.

    Args:
        pixels: (H, W) float in [0, 1], bone bright (``Radiograph.pixels``).
        window: the integer crop window the heatmap's crop was made from.
        heatmap: (S, S) float in [0, 1]; resized (bilinear) to the window's size.
        alpha: weight of the heatmap colour over the grey image.
        full_image: False returns only the window region; True the whole radiograph, with the heatmap
            inside the window and the grey image elsewhere.

    Returns:
        (h, w, 3) uint8 RGB.
    """
    from PIL import Image

    x0, y0, x1, y1 = (int(v) for v in window)
    grey = np.clip(np.rint(np.asarray(pixels, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    heat = np.asarray(Image.fromarray(np.asarray(heatmap, dtype=np.float32))
                      .resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR))
    region = np.repeat(grey[y0:y1, x0:x1, None], 3, axis=2).astype(np.float32)
    blended = (1.0 - alpha) * region + alpha * colorize(heat, colormap).astype(np.float32)
    blended = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    if not full_image:
        return blended
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    rgb[y0:y1, x0:x1] = blended
    return rgb
