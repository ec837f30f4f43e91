"""Service settings through pydantic: every layer's text is typed by the Settings model itself."""
from pathlib import Path

import pytest
from pydantic import ValidationError

from vcfnet.errors import VcfnetError
from vcfnet.service.settings import Settings, load_settings, settings_from_json


def test_environment_text_is_typed_by_the_model(tmp_path):
    s = load_settings(env={"VCFNET_CORS_ORIGINS": "https://a.example, https://b.example",
                           "VCFNET_TOKENS_FILE": "", "VCFNET_UPLOAD_DIR": "~/uploads",
                           "VCFNET_MAX_UPLOAD_MB": "2.5", "VCFNET_KEEP_UPLOADS": "on"})
    assert s.cors_origins == ["https://a.example", "https://b.example"] and s.tokens_file is None
    assert s.upload_dir == Path("~/uploads").expanduser() and s.max_upload_mb == 2.5 and s.keep_uploads
    assert settings_from_json(s.to_json()) == s


def test_every_bad_value_is_named_with_its_source_in_one_line(tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("port: true\nmax_boxes: 3.5\n")
    with pytest.raises(VcfnetError) as err:
        load_settings(cfg, env={"VCFNET_WORKERS": "two"})
    text = str(err.value)
    assert "\n" not in text and "validation error" not in text
    assert f"{cfg}: 'port' must be int, got True" in text and f"{cfg}: 'max_boxes' must be int, got 3.5" in text
    assert "environment VCFNET_WORKERS: 'workers' must be int, got 'two'" in text


def test_settings_built_in_code_are_validated_too():
    with pytest.raises(ValidationError):
        Settings(port="eighty")
    with pytest.raises(ValidationError):
        Settings(prot=1)
    assert Settings(checkpoint="run/best").checkpoint == Path("run/best")
