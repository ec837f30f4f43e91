"""Tests that need a CUDA device (``-m gpu``; benchmarks/gpu.py runs them). Without one they skip."""
import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_bf16_autocast_training_step_learns_on_cuda():
    from vcfnet.bench.train import run_project

    rng = np.random.default_rng(0)
    labels = np.arange(48) % 3
    crops = rng.integers(0, 60, (48, 1, 32, 32), dtype=np.uint8)
    for i, k in enumerate(labels):
        crops[i, 0, 10 * k:10 * k + 10] += 180
    out = run_project(crops, labels, epochs=2, device="cuda", amp="bf16", batch_size=16, input_size=32)
    assert out["amp"] == "bf16" and out["device"].startswith("cuda")
    params = list(out["model"].parameters())
    assert params[0].device.type == "cuda"
    assert all(torch.isfinite(p).all() for p in params)


def test_channels_last_inference_on_cuda_matches_the_cpu():
    from vcfnet.model.engine import predict_proba
    from vcfnet.model.network import build_model

    torch.manual_seed(0)
    cpu = build_model("resnet18", weights=None).eval()
    gpu = build_model("resnet18", weights=None).eval()
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.to("cuda", memory_format=torch.channels_last)
    crops = np.random.default_rng(1).integers(0, 256, (20, 1, 64, 64), dtype=np.uint8)
    on_cpu = predict_proba(cpu, crops, device="cpu", batch_size=8)
    on_gpu = predict_proba(gpu, crops, device="cuda", batch_size=8)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=2e-3)
    np.testing.assert_array_equal(on_gpu.argmax(1), on_cpu.argmax(1))


def test_bf16_inference_on_cuda_agrees_with_fp32():
    from vcfnet.model.engine import predict_proba
    from vcfnet.model.network import build_model

    torch.manual_seed(0)
    model = build_model("resnet18", weights=None).to("cuda", memory_format=torch.channels_last).eval()
    crops = np.random.default_rng(2).integers(0, 256, (32, 1, 64, 64), dtype=np.uint8)
    fp32 = predict_proba(model, crops, device="cuda")
    bf16 = predict_proba(model, crops, device="cuda", amp_dtype=torch.bfloat16)
    assert np.abs(bf16 - fp32).max() < 0.05
