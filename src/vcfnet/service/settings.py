"""Service settings: defaults < config file (YAML or TOML) < ``VCFNET_*`` environment < command line.

    >>> settings = load_settings("serve.yaml", env=os.environ, checkpoint="run/best")

Every key is a field of :class:`Settings`; an unknown key or a value of the wrong type is an error
that names the key, where it came from and what is expected.
"""
from __future__ import annotations

import ipaddress
import json
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from vcfnet.errors import VcfnetError

ENV_PREFIX = "VCFNET_"
#: ``vcfnet demo``'s output folder; ``vcfnet serve`` without a checkpoint uses the one it trained.
DEMO_DIR = Path("vcfnet-demo")


class Settings(BaseModel):
    """Everything ``create_app`` and ``vcfnet serve`` need. Sizes in MB, times in seconds."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    checkpoint: Optional[Path] = None
    detector: Optional[Path] = None          # `vcfnet train-detector` folder: the page proposes boxes (/api/v1/propose)
    detector_score_threshold: float = 0.3    # the lowest detection score proposed
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    device: str = "cpu"
    precision: str = "float32"               # float32 (as evaluated) or bfloat16 (faster on AMX/AVX512-BF16 CPUs, GPUs)
    torch_threads: int = 0                   # intra-op threads per worker; 0 = cores // workers
    max_upload_mb: float = 50.0
    max_image_megapixels: float = 50.0
    max_boxes: int = 32
    max_batch_images: int = 16
    request_timeout_s: float = 60.0
    header_timeout_s: float = 10.0           # request line + headers must arrive within this (slowloris)
    inference_threads: int = 1
    rate_limit: int = 60                     # requests per token (or client) per minute; 0 = off
    cors_origins: list[str] = Field(default_factory=list)  # empty = closed; "a,b" from the environment
    tokens_file: Optional[Path] = None       # hashed API tokens (``vcfnet serve token create``)
    login_user: Optional[str] = None         # page login; with login_password_hash
    login_password_hash: Optional[str] = None  # ``vcfnet serve hash-password``
    session_secret: Optional[str] = None     # signs session cookies; random per start when unset
    session_max_age_s: int = 8 * 3600
    keep_uploads: bool = False
    upload_dir: Optional[Path] = None        # parent of the per-request private dirs; system temp if unset
    state_dir: Optional[Path] = None         # sessions + rate limits shared by the workers (SQLite, WAL)
    log_level: str = "info"
    pacs_url: Optional[str] = None           # DICOMweb root of the PACS the page searches and sends to
    pacs_username: Optional[str] = None      # HTTP basic credentials for it (with pacs_password)
    pacs_password: Optional[str] = None
    pacs_timeout_s: float = 60.0

    @field_validator("*", mode="before")
    @classmethod
    def _from_text(cls, value: Any, info: ValidationInfo) -> Any:
        """What files and the environment give: "" is unset, "~" expands, "a,b" is a list; a boolean is
        not a number."""
        assert info.field_name is not None  # a field validator: pydantic names the field
        annotation = cls.model_fields[info.field_name].annotation
        optional = type(None) in typing.get_args(annotation)
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
        if optional and (value is None or value == ""):
            return None
        if isinstance(value, bool) and kinds[0] in (int, float):
            raise ValueError("a boolean is not a number")
        if kinds[0] is Path and isinstance(value, (str, Path)):
            return Path(os.path.expanduser(str(value)))
        if typing.get_origin(annotation) is list:
            items = value.split(",") if isinstance(value, str) else value
            if isinstance(items, list):
                return [str(v).strip() for v in items if str(v).strip()]
        return value

    @property
    def auth_required(self) -> bool:
        return self.tokens_file is not None or self.login_enabled

    @property
    def login_enabled(self) -> bool:
        return bool(self.login_user and self.login_password_hash)

    def check(self) -> Settings:
        """Refuse combinations that are unsafe or meaningless; return self."""
        if bool(self.login_user) != bool(self.login_password_hash):
            raise VcfnetError("settings: login_user and login_password_hash go together (create the hash "
                              "with `vcfnet serve hash-password`)")
        for name in ("port", "workers", "max_boxes", "max_batch_images", "inference_threads"):
            if getattr(self, name) < 1:
                raise VcfnetError(f"settings: {name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_upload_mb", "max_image_megapixels", "request_timeout_s", "header_timeout_s"):
            if not getattr(self, name) > 0:
                raise VcfnetError(f"settings: {name} must be positive, got {getattr(self, name)}")
        if self.precision not in ("float32", "bfloat16"):
            raise VcfnetError(f"settings: precision must be float32 or bfloat16, got '{self.precision}'")
        if not 0.0 <= self.detector_score_threshold <= 1.0:
            raise VcfnetError(f"settings: detector_score_threshold must be within 0..1, got {self.detector_score_threshold}")
        if self.torch_threads < 0:
            raise VcfnetError(f"settings: torch_threads must be >= 0 (0 = cores // workers), got {self.torch_threads}")
        if self.rate_limit < 0:
            raise VcfnetError(f"settings: rate_limit must be >= 0 (0 = off), got {self.rate_limit}")
        if self.pacs_url and not self.pacs_url.startswith(("http://", "https://")):
            raise VcfnetError("settings: pacs_url must start with http:// or https:// (the PACS's DICOMweb root)")
        if not self.pacs_timeout_s > 0:
            raise VcfnetError(f"settings: pacs_timeout_s must be positive, got {self.pacs_timeout_s}")
        if "*" in self.cors_origins:
            raise VcfnetError("settings: cors_origins must list origins explicitly; '*' is not allowed")
        if not self.auth_required and not is_loopback(self.host):
            raise VcfnetError(
                f"settings: serving on {self.host} without authentication would expose the service; set "
                f"tokens_file (and optionally login_user/login_password_hash) or serve on 127.0.0.1")
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _kind(name: str) -> str:
    annotation = Settings.model_fields[name].annotation
    text = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    if type(None) in typing.get_args(annotation):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        text = f"{kinds[0].__name__} (or empty)"
    return text.replace("pathlib.", "")


def _describe(exc: ValidationError, origins: Mapping[str, str]) -> str:
    """pydantic's errors as one line: where each bad value came from, the key, the type it must have."""
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "settings"
        if name in Settings.model_fields:
            parts.append(f"{origins.get(name, 'settings')}: '{name}' must be {_kind(name)}, got {err.get('input')!r}")
        else:
            parts.append(f"settings: {err['msg']}")
    return "; ".join(parts)


def _validated(values: Mapping[str, Any], origins: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate(dict(values))
    except ValidationError as exc:
        raise VcfnetError(_describe(exc, origins)) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file; an optional ``serve`` table."""
    path = Path(path)
    if not path.is_file():
        raise VcfnetError(f"{path}: config file does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text) or {}
        else:
            raise VcfnetError(f"{path}: config file must be .yaml, .yml or .toml")
    except (ValueError, UnicodeDecodeError) as exc:   # tomllib and yaml errors are ValueErrors or YAMLError
        raise VcfnetError(f"{path}: not a valid config file ({exc})") from None
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            raise VcfnetError(f"{path}: not valid YAML ({exc})") from None
        raise
    if isinstance(data, dict) and isinstance(data.get("serve"), dict):
        data = data["serve"]
    if not isinstance(data, dict):
        raise VcfnetError(f"{path}: expected a mapping of setting names to values")
    return data


def load_settings(config: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Resolve settings; ``overrides`` whose value is None are ignored (unset command-line options)."""
    known = Settings.model_fields
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config is not None:
        layers.append((str(config), read_config_file(config)))
    env = os.environ if env is None else env
    layers.append(("environment", {k[len(ENV_PREFIX):].lower(): v for k, v in env.items()
                                   if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):].lower() in known}))
    layers.append(("command line", {k: v for k, v in overrides.items() if v is not None}))
    for source, layer in layers:
        for key, value in layer.items():
            if key not in known:
                raise VcfnetError(f"{source}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
            values[key] = value
            origins[key] = source if source != "environment" else f"environment {ENV_PREFIX}{key.upper()}"
    return _validated(values, origins).check()


def settings_from_json(text: str) -> Settings:
    """Inverse of ``Settings.to_json`` (how ``vcfnet serve`` hands settings to uvicorn's workers)."""
    return _validated(json.loads(text), {}).check()
