"""``vcfnet serve`` wiring: default checkpoint, clear errors, token commands."""
from __future__ import annotations

import shutil
from pathlib import Path

from vcfnet.cli import main
from vcfnet.service.security import TokenStore


def test_serve_without_checkpoint_or_demo_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "vcfnet demo" in err and "--checkpoint" in err and "Traceback" not in err


def test_serve_defaults_to_the_demo_checkpoint(tmp_path, monkeypatch, checkpoint, caplog):
    import json
    import os
    import time

    from vcfnet.commands.serve import _default_checkpoint

    monkeypatch.chdir(tmp_path)
    for run in ("aaa", "bbb"):      # as `vcfnet demo` lays them out: vcfnet-demo/runs/<hash>/best
        shutil.copytree(checkpoint, tmp_path / "vcfnet-demo" / "runs" / run / "best")
    now = time.time()       # copytree keeps the fixture's mtime, which a slow run makes older than now - 100
    os.utime(tmp_path / "vcfnet-demo/runs/aaa/best/model.json", (now, now))
    os.utime(tmp_path / "vcfnet-demo/runs/bbb/best/model.json", (now - 100, now - 100))
    caplog.set_level("INFO")
    assert _default_checkpoint() == Path("vcfnet-demo/runs/aaa/best")            # the newest run
    (tmp_path / "vcfnet-demo" / "demo.json").write_text(json.dumps({"checkpoint": "vcfnet-demo/runs/bbb/best"}))
    assert _default_checkpoint() == Path("vcfnet-demo/runs/bbb/best")            # the one the demo names
    assert "demo's checkpoint" in caplog.text


def test_serve_refuses_open_service_on_public_address(tmp_path, capsys, checkpoint):
    assert main(["serve", "--checkpoint", str(checkpoint), "--host", "0.0.0.0"]) == 2
    assert "without authentication" in capsys.readouterr().err


def test_token_commands(tmp_path, capsys):
    tokens = tmp_path / "tokens.json"
    assert main(["serve", "token", "create", "site-2", "--tokens-file", str(tokens)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("vcfnet_") and token not in tokens.read_text()
    assert TokenStore(tokens).verify(token) == "site-2"
    assert main(["serve", "token", "list", "--tokens-file", str(tokens)]) == 0
    assert capsys.readouterr().out.split() == ["site-2"]
    assert main(["serve", "token", "revoke", "site-2", "--tokens-file", str(tokens)]) == 0
    assert TokenStore(tokens).verify(token) is None
    assert main(["serve", "token", "revoke", "nobody", "--tokens-file", str(tokens)]) == 2
    assert main(["serve", "token", "create", "x"]) == 2
    assert "tokens file" in capsys.readouterr().err


def test_load_benchmark_rewrites_only_its_docs_section(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "load_service.py"
    spec = importlib.util.spec_from_file_location("load_service", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    docs = tmp_path / "BENCHMARKS.md"
    monkeypatch.setattr(bench, "DOCS", docs)
    bench.write_section("## Service\n\nfirst\n")
    assert docs.read_text() == "# Benchmarks\n\n## Service\n\nfirst\n"
    docs.write_text("# Benchmarks\n\n## Training\n\nT\n\n## Service\n\nfirst\n\n## Inference\n\nI\n")
    bench.write_section("## Service\n\nsecond\n")
    assert docs.read_text() == "# Benchmarks\n\n## Training\n\nT\n\n## Service\n\nsecond\n\n## Inference\n\nI\n"
