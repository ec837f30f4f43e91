"""The one training and inference engine: every consumer runs the model through these functions.

``predict_proba`` is what evaluation, the Predictor and the web service call, so their numbers agree;
``train_one_epoch`` and ``evaluate`` are what ``fit`` (and the benchmark) call. Names follow
torchvision's ``references/classification``.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vcfnet.errors import VcfnetError
from vcfnet.model.augment import augment_batch, to_unit
from vcfnet.model.distributed import all_reduce_sum
from vcfnet.model.network import unwrap


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else is checked."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise VcfnetError(f"Invalid device '{name}'. Use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise VcfnetError(f"device '{name}' was asked for but no CUDA GPU is visible")
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 matrix maths natively (CUDA Ampere+, or AVX512-BF16/AMX CPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """``auto`` -> bfloat16 where the hardware does it, float32 (``None``) otherwise."""
    if amp == "fp32":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "auto":
        return torch.bfloat16 if bf16_supported(device) else None
    raise VcfnetError(f"Invalid amp '{amp}'. Only auto, bf16 and fp32 are supported.")


def autocast(device: torch.device, amp_dtype: torch.dtype | None):
    """Mixed-precision context, or a no-op one for float32."""
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype)


def _check_crops(crops: Any) -> Any:
    """uint8 ndarray/tensor (N, 1, S, S) or (N, S, S) -> the same kind of array, (N, 1, S, S)."""
    if not isinstance(crops, torch.Tensor):
        crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[:, None]
    if crops.ndim != 4 or crops.shape[1] != 1:
        raise ValueError(f"expected crops of shape (N, 1, S, S), got {tuple(crops.shape)}")
    return crops


def _batch(crops: Any, start: int, stop: int) -> torch.Tensor:
    part = crops[start:stop]
    # a copy per batch: cached crops are read-only memory maps, which torch must not alias
    return part if isinstance(part, torch.Tensor) else torch.from_numpy(np.array(part))


@torch.no_grad()
def predict_logits(model: torch.nn.Module, crops: Any, *, batch_size: int = 256,
                   device: str | torch.device = "cpu", amp_dtype: torch.dtype | None = None,
                   extra: Any = None) -> np.ndarray:
    """Logits (N, C) float32 for uint8 crops (N, 1, S, S), in eval mode, batch by batch.

    Crops whose side differs from ``model.input_size`` (set from the card) are resized on the device.
    ``extra`` (N, F): a second input per crop for a model called as ``model(x, extra)`` (late fusion
    of clinical features, ``vcfnet.model.fusion``).
    """
    device = torch.device(device)
    param = next(model.parameters())
    if param.device.type != device.type:
        raise ValueError(f"model is on {param.device} but device={device} was asked for")
    crops = _check_crops(crops)
    size = getattr(unwrap(model), "input_size", None)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, crops.shape[0], batch_size):
            x = to_unit(_batch(crops, start, start + batch_size).to(device, non_blocking=True), size)
            with autocast(device, amp_dtype):
                if extra is None:
                    out.append(model(x).float().cpu())
                else:
                    z = torch.as_tensor(np.asarray(extra[start:start + batch_size]), dtype=torch.float32)
                    out.append(model(x, z.to(device)).float().cpu())
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, unwrap(model).num_classes), dtype=np.float32)
    return torch.cat(out).numpy()


def predict_proba(model: torch.nn.Module, crops: Any, *, batch_size: int = 256,
                  device: str | torch.device = "cpu", amp_dtype: torch.dtype | None = None,
                  temperature: float | None = None) -> np.ndarray:
    """Class probabilities (N, C) float64, rows summing to 1, in ``CLASSES`` order.

    ``temperature`` (from a calibrated card) divides the logits before the softmax; the softmax is
    ``vcfnet.stats.apply_temperature``, the rule the temperature was fitted under.
    """
    from vcfnet.stats.calibration import apply_temperature

    logits = predict_logits(model, crops, batch_size=batch_size, device=device,
                            amp_dtype=amp_dtype).astype(np.float64)
    return apply_temperature(logits, 1.0 if temperature is None else float(temperature))


def evaluate(model: torch.nn.Module, crops: Any, labels: Any, *, batch_size: int = 256,
             device: str | torch.device = "cpu", amp_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Mean cross-entropy, accuracy and count over ``crops``; under DDP, each process passes its own
    disjoint shard and the sums are added across processes (no padded duplicates)."""
    logits = torch.from_numpy(predict_logits(model, crops, batch_size=batch_size, device=device,
                                             amp_dtype=amp_dtype))
    y = torch.tensor(np.asarray(labels), dtype=torch.int64)
    loss_sum = F.cross_entropy(logits.double(), y, reduction="sum") if len(y) else torch.zeros((), dtype=torch.float64)
    correct = (logits.argmax(1) == y).sum().double()
    sums = torch.stack([loss_sum.double(), correct, torch.tensor(float(len(y)), dtype=torch.float64)])
    sums = all_reduce_sum(sums.to(torch.device(device))).cpu()
    n = int(sums[2])
    return {"loss": float(sums[0] / n) if n else float("nan"),
            "accuracy": float(sums[1] / n) if n else float("nan"), "n": n}


def batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Split an index order into batches; a trailing batch of one sample (BatchNorm cannot train on
    it) joins the batch before it."""
    parts = list(torch.split(order, batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2] = torch.cat([parts[-2], parts.pop()])
    return parts


def train_one_epoch(model: torch.nn.Module, criterion, optimizer: torch.optim.Optimizer,
                    crops: torch.Tensor, labels: torch.Tensor, order: torch.Tensor, *, batch_size: int,
                    device: torch.device, amp_dtype: torch.dtype | None = None,
                    input_size: int | None = None, augment: dict[str, Any] | None = None,
                    generator: torch.Generator | None = None, channels_last: bool = True,
                    extra: torch.Tensor | None = None) -> dict[str, float]:
    """One pass over ``crops[order]`` (uint8 (N, 1, S, S), on ``device`` or the CPU) in batches.

    ``augment`` = dict(hflip=, vflip=, rotation=) or ``None`` for none; ``extra`` (N, F) float: a second
    input per crop (not augmented), the model then called as ``model(x, extra[idx])``. Returns this process's
    ``loss`` (mean), ``accuracy``, ``n``, ``seconds`` and ``img_per_s``.
    """
    model.train()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    start = time.perf_counter()
    n = 0
    for idx in batches(order, batch_size):
        x = crops[idx.to(crops.device)].to(device, non_blocking=True)
        y = labels[idx.to(labels.device)].to(device, non_blocking=True)
        x = to_unit(x, input_size)
        if augment:
            x = augment_batch(x, generator=generator, **augment)
        x = x.contiguous(memory_format=memory_format)
        with autocast(device, amp_dtype):
            logits = model(x) if extra is None else model(x, extra[idx.to(extra.device)].to(device))
            loss = criterion(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == y).sum()
        n += len(idx)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"loss": float(loss_sum) / max(n, 1), "accuracy": float(correct) / max(n, 1), "n": n,
            "seconds": seconds, "img_per_s": n / seconds if seconds > 0 else float("nan"),
            "loss_sum": float(loss_sum), "correct": int(correct)}
