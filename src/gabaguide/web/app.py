"""The web app: ``create_app(settings)`` wires the store, the knowledge base, the pages, the JSON
API, the static files and the error handling. Nothing clinical happens here."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gabaguide import __doc__ as package_doc
from gabaguide.domain import InteractionsRequest, Patient
from gabaguide.errors import InputError
from gabaguide.knowledge import load_knowledge
from gabaguide.store import Store, open_store
from gabaguide.store import cds as cds_memory
from gabaguide.store.demo import load_demo_patients
from gabaguide.web import accounts, api, cds, diary, pages
from gabaguide.web.auth import ForbiddenError, LoginRequiredError
from gabaguide.web.cdsauth import Verifier, load_issuers
from gabaguide.web.errors import (
    FieldError,
    NotFoundError,
    body,
    from_input_error,
    from_pydantic,
    from_request_error,
)
from gabaguide.web.security import SECURITY_HEADERS
from gabaguide.web.settings import Settings
from gabaguide.web.state import AppState

log = logging.getLogger("gabaguide.web")
# The field names of every request body and query: a core sentence starting with one of them names
# that field; any other sentence is about the body as a whole.
REQUEST_FIELDS = frozenset(
    {*Patient.model_fields, *InteractionsRequest.model_fields, *api.SimulateRequest.model_fields}
    | {"q", "kind", "limit", "source_id", "reaction"}
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (default: from the environment). The database is migrated and the
    demo patients loaded when the app starts."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings.database_url)
        if settings.load_demo:
            load_demo_patients(store)
        app.state.gabaguide = AppState(
            settings=settings,
            knowledge=load_knowledge(),
            store=store,
            visitor_secret=store.secret(),
            cds_verifier=_cds_verifier(settings, store),
        )
        # Start-up objects (knowledge base, templates, routes) live as long as the app: keep them out
        # of the garbage collector's full scans, as the CLI's batch path does.
        gc.collect()
        gc.freeze()
        yield
        store.engine.dispose()

    app = FastAPI(
        title="gabaguide",
        summary="Gabapentin therapy decision support: cited dosing, interactions, schedules, PK.",
        description=(package_doc or "").split("\n>>>")[0]
        + "\n\nErrors: every 4xx answer has the body `{detail, errors: [{field, message}]}`.",
        version=_version(),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(accounts.router)
    app.include_router(diary.router)
    app.include_router(cds.router)
    app.mount("/static", StaticFiles(directory=str(files("gabaguide.web") / "static")), "static")

    @app.get("/static-bundle/vega.js", include_in_schema=False)
    def vega_bundle() -> Response:
        return Response(
            _vega_bundle(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """Liveness: answers without touching the knowledge base or the database."""
        return {"status": "ok"}

    _handlers(app)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    return app


def _handlers(app: FastAPI) -> None:
    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
            "accept", ""
        )

    def page(request: Request, status: int, title: str, problems: list[str]) -> Response:
        return pages.render(
            request, "error.html", status_code=status, title=title, problems=problems
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = from_request_error(exc)
        if wants_html(request):
            return page(request, 422, "That did not work", [e.message for e in errors])
        return JSONResponse(body("The request is not valid.", errors), status_code=422)

    @app.exception_handler(InputError)
    async def input_invalid(request: Request, exc: InputError) -> Response:
        if wants_html(request):
            return page(request, 422, "That did not work", list(exc.problems))
        return JSONResponse(
            body("The request is not valid.", from_input_error(exc, REQUEST_FIELDS)),
            status_code=422,
        )

    @app.exception_handler(ValidationError)
    async def model_invalid(request: Request, exc: ValidationError) -> Response:
        return JSONResponse(body("The request is not valid.", from_pydantic(exc)), status_code=422)

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(body("Log in first."), status_code=401)
        target = f"/login?next={quote(exc.next_path)}" if exc.next_path else "/login"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        if wants_html(request) or request.method == "POST":
            return page(request, 403, "Not allowed", [exc.detail])
        return JSONResponse(body(exc.detail), status_code=403)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        if wants_html(request):
            return page(request, 404, "Not found", [exc.detail])
        return JSONResponse(body(exc.detail), status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code == 404:
            return page(request, 404, "Not found", [f"There is no page at {request.url.path}."])
        if exc.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8)
            problem = FieldError(field="body", message="body must be UTF-8 encoded JSON")
            return JSONResponse(body("The request is not valid.", [problem]), status_code=422)
        return JSONResponse(body(str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        # A bug: logged with its type only (never the request body, which may hold patient data).
        log.error(
            "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse(body("Internal error (a bug in gabaguide)."), status_code=500)


def _cds_verifier(settings: Settings, store: Store) -> Verifier | None:
    """The JWT verifier of the CDS Hooks routes (its issuers read at start-up), or None when
    authentication is off."""
    if not settings.cds_auth:
        log.warning("GABAGUIDE_CDS_AUTH is off: CDS Hooks calls are not authenticated (demo only)")
        return None
    issuers = load_issuers(settings.cds_issuers) if settings.cds_issuers else {}
    if not issuers:
        log.warning("no trusted CDS Hooks issuers (GABAGUIDE_CDS_ISSUERS): every call gets 401")
    return Verifier(
        issuers, lambda iss, jti, expires: cds_memory.first_use(store, iss, jti, expires)
    )


@cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script, from vl-convert (no network, no CDN)."""
    import vl_convert as vlc

    return str(vlc.javascript_bundle())  # type: ignore[call-arg]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gabaguide")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
