"""What the reading app's request handlers share (``app.state.reading``), and its cookie and header names."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfnet.readers.design import utcnow
from vcfnet.readers.store import ReaderStore
from vcfnet.service.security import RateLimiter, SessionSigner, TokenStore
from vcfnet.service.store import SharedStore

SESSION_COOKIE = "vcfnet_reader_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE_S = 12 * 3600


@dataclass
class ReadingState:
    root: Path
    store: ReaderStore
    tokens: TokenStore
    sessions: SharedStore
    signer: SessionSigner
    limiter: RateLimiter
    templates: Any
    clock: Callable[[], _dt.datetime] = utcnow
    info: dict = field(default_factory=dict)

    def now(self) -> _dt.datetime:
        return self.clock()


