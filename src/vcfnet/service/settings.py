"""Service settings: defaults < config file (YAML or TOML) < ``VCFNET_*`` environment < command line.

    >>> settings = load_settings("serve.yaml", env=os.environ, checkpoint="run/best")

Every key is a field of :class:`Settings`; an unknown key or a value of the wrong type is an error
that names the key, where it came from and what is expected.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path
from typing import Any, Mapping

from vcfnet.errors import VcfnetError

ENV_PREFIX = "VCFNET_"
#: ``vcfnet demo``'s output folder; ``vcfnet serve`` without a checkpoint uses the one it trained.
DEMO_DIR = Path("vcfnet-demo")


@dataclasses.dataclass
class Settings:
    """Everything ``create_app`` and ``vcfnet serve`` need. Sizes in MB, times in seconds."""

    checkpoint: Path | None = None
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
    cors_origins: list[str] = dataclasses.field(default_factory=list)  # empty = closed
    tokens_file: Path | None = None          # hashed API tokens (``vcfnet serve token create``)
    login_user: str | None = None            # page login; with login_password_hash
    login_password_hash: str | None = None   # ``vcfnet serve hash-password``
    session_secret: str | None = None        # signs session cookies; random per start when unset
    session_max_age_s: int = 8 * 3600
    keep_uploads: bool = False
    upload_dir: Path | None = None           # parent of the per-request private dirs; system temp if unset
    state_dir: Path | None = None            # sessions + rate limits shared by the workers (SQLite, WAL)
    log_level: str = "info"

    @property
    def auth_required(self) -> bool:
        return self.tokens_file is not None or self.login_enabled

    @property
    def login_enabled(self) -> bool:
        return bool(self.login_user and self.login_password_hash)

    def check(self) -> "Settings":
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
        if self.torch_threads < 0:
            raise VcfnetError(f"settings: torch_threads must be >= 0 (0 = cores // workers), got {self.torch_threads}")
        if self.rate_limit < 0:
            raise VcfnetError(f"settings: rate_limit must be >= 0 (0 = off), got {self.rate_limit}")
        if "*" in self.cors_origins:
            raise VcfnetError("settings: cors_origins must list origins explicitly; '*' is not allowed")
        if not self.auth_required and not is_loopback(self.host):
            raise VcfnetError(
                f"settings: serving on {self.host} without authentication would expose the service; set "
                f"tokens_file (and optionally login_user/login_password_hash) or serve on 127.0.0.1")
        return self

    def to_json(self) -> str:
        return json.dumps({k: (str(v) if isinstance(v, Path) else v)
                           for k, v in dataclasses.asdict(self).items()})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert ``value`` (from a file or a string from the environment) to the field's type."""
    kind = _field_types()[name]
    if value is None or (isinstance(value, str) and value == "" and "None" in kind):
        if "None" in kind:
            return None
    try:
        if kind.startswith("Path"):
            return Path(os.path.expanduser(str(value)))
        if kind.startswith("str"):
            if not isinstance(value, (str, int, float)):
                raise TypeError
            return str(value)
        if kind == "bool":
            return _to_bool(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind.startswith("list"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list):
                raise TypeError
            return [str(v).strip() for v in items if str(v).strip()]
    except (TypeError, ValueError):
        pass
    raise VcfnetError(f"{source}: '{name}' must be {kind.replace(' | None', ' (or empty)')}, got {value!r}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


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
    known = _field_types()
    values: dict[str, Any] = {}
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
            values[key] = _coerce(key, value, f"{source}" if source != "environment"
                                  else f"environment {ENV_PREFIX}{key.upper()}")
    return Settings(**values).check()


def settings_from_json(text: str) -> Settings:
    """Inverse of ``Settings.to_json`` (how ``vcfnet serve`` hands settings to uvicorn's workers)."""
    data = json.loads(text)
    return Settings(**{k: _coerce(k, v, "settings") for k, v in data.items()}).check()
