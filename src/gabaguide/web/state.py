"""What every request handler needs: the knowledge base, the store, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from gabaguide.knowledge import Knowledge
from gabaguide.store import Store
from gabaguide.web.cdsauth import Verifier
from gabaguide.web.ratelimit import RateLimiter
from gabaguide.web.settings import Settings


@dataclass
class AppState:
    settings: Settings
    knowledge: Knowledge
    store: Store
    visitor_secret: str
    """Key of the visitor-cookie hash (kept in the database)."""
    cds_verifier: Verifier | None = None
    """Checks CDS Hooks JWTs (None when ``GABAGUIDE_CDS_AUTH`` is off)."""
    reaction_limiter: RateLimiter = field(init=False)
    login_limiter: RateLimiter = field(init=False)
    """Failed log-ins and reset requests, counted per client address and per e-mail address."""

    def __post_init__(self) -> None:
        self.reaction_limiter = RateLimiter(
            self.settings.reaction_limit, self.settings.reaction_window_s
        )
        self.login_limiter = RateLimiter(self.settings.login_limit, self.settings.login_window_s)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gabaguide
    return state
