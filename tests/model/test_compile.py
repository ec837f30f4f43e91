"""The ``compile`` option really compiles: the network runs through torch.compile (dynamo + inductor)."""
import pytest
import torch

from vcfnet.model.distributed import DistInfo
from vcfnet.model.network import unwrap
from vcfnet.model.train import setup_model


def test_compile_option_wraps_the_network_in_torch_compile(fast_config):
    model, raw = setup_model(fast_config.replace(compile=True), torch.device("cpu"), DistInfo())
    assert isinstance(model, torch._dynamo.eval_frame.OptimizedModule) and model._orig_mod is raw
    assert unwrap(model) is raw
    plain, _ = setup_model(fast_config, torch.device("cpu"), DistInfo())
    assert not isinstance(plain, torch._dynamo.eval_frame.OptimizedModule)


@pytest.mark.slow
def test_compiled_training_runs_compiled_graphs_and_saves_plain_weights(tiny_study, tmp_path, fast_config):
    """One epoch with compile=True: dynamo captures graphs, and best/ loads into an uncompiled network."""
    from torch._dynamo.utils import counters

    from vcfnet.model.checkpoint import load_checkpoint
    from vcfnet.model.config import load_config
    from vcfnet.model.train import fit

    torch._dynamo.reset()
    counters.clear()
    fit(tiny_study, tmp_path / "run", fast_config.replace(epochs=1, compile=True))
    assert counters["stats"]["unique_graphs"] >= 1
    model, _ = load_checkpoint(tmp_path / "run" / "best")
    assert not any(k.startswith("_orig_mod") for k in model.state_dict())
    assert load_config(tmp_path / "run" / "config.yaml").compile is True
