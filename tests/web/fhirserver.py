"""A tiny real FHIR server for the CDS Hooks tests: http.server on a free loopback port, in a thread.

It holds charts (a patient and their resources) and answers the reads and searches a CDS service
makes — ``Patient/<id>`` and ``<Type>?patient=<id>`` searches (Observation filtered by ``code``,
sorted by ``-date``, cut at ``_count``; ``status`` and ``clinical-status`` filters) — as searchset
Bundles. It records each request's path (percent-decoded) and Authorization header, serves JWK Sets
for ``jku`` under ``/jwks/<name>``, and can be told to fail (a status for a resource type, or for
every read) or to answer slowly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ALL = "*"


@dataclass(frozen=True)
class Seen:
    path: str
    """Path and query, percent-decoded."""
    authorization: str | None
    raw: str
    """Path and query as sent."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the service's time-out) is expected: no traceback."""


class FhirServer:
    def __init__(self) -> None:
        self._charts: dict[str, list[dict[str, Any]]] = {}
        self._jwks: dict[str, Mapping[str, Any]] = {}
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.failures: dict[str, int] = {}
        """Resource type (or :data:`ALL`) -> the status its reads answer."""
        self.delay_s = 0.0
        """How long each FHIR read waits before answering."""
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.base = f"{self.url}/fhir"
        """The FHIR base URL (a request's ``fhirServer``)."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> FhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # --- content -------------------------------------------------------------------------------------

    def add_chart(self, patient: Mapping[str, Any], resources: Sequence[Mapping[str, Any]]) -> None:
        """A patient (a Patient resource with an ``id``) and the resources about them."""
        with self._lock:
            self._charts[str(patient["id"])] = [dict(patient), *(dict(r) for r in resources)]

    def add_jwks(self, name: str, jwks: Mapping[str, Any]) -> str:
        """Serve ``jwks`` at ``/jwks/<name>``; its URL."""
        with self._lock:
            self._jwks[f"/jwks/{name}"] = jwks
        return f"{self.url}/jwks/{name}"

    # --- behaviour -----------------------------------------------------------------------------------

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def reset(self) -> None:
        """Forget the requests seen; answer normally again."""
        with self._lock:
            self._seen.clear()
        self.failures = {}
        self.delay_s = 0.0

    @contextmanager
    def failing(self, status: int, resource_type: str = ALL) -> Iterator[None]:
        self.failures = {**self.failures, resource_type: status}
        try:
            yield
        finally:
            self.failures = {}

    # --- answers -------------------------------------------------------------------------------------

    def _record(self, path: str, authorization: str | None) -> None:
        with self._lock:
            self._seen.append(Seen(unquote(path), authorization, path))

    def _answer(self, raw_path: str) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        if parts.path in self._jwks:
            return 200, self._jwks[parts.path]
        if not parts.path.startswith("/fhir/"):
            return 404, _outcome("not-found", parts.path)
        segments = parts.path[len("/fhir/") :].split("/")
        kind = segments[0]
        status = self.failures.get(kind, self.failures.get(ALL))
        if self.delay_s:
            self._stop.wait(self.delay_s)
        if status is not None:
            return status, _outcome("exception", "told to fail")
        if len(segments) == 2:
            return self._read(kind, segments[1])
        if len(segments) == 1:
            return 200, self._search(kind, parse_qs(parts.query))
        return 404, _outcome("not-found", parts.path)

    def _read(self, kind: str, rid: str) -> tuple[int, Any]:
        with self._lock:
            for resources in self._charts.values():
                for r in resources:
                    if r.get("resourceType") == kind and r.get("id") == rid:
                        return 200, r
        return 404, _outcome("not-found", f"{kind}/{rid}")

    def _search(self, kind: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        patient = (query.get("patient") or [""])[0].removeprefix("Patient/")
        with self._lock:
            found = [r for r in self._charts.get(patient, []) if r.get("resourceType") == kind]
        if "code" in query:
            wanted = {c for v in query["code"] for c in v.split(",")}
            found = [r for r in found if wanted & _codes(r)]
        if "status" in query:
            found = [r for r in found if r.get("status") in query["status"][0].split(",")]
        if "clinical-status" in query:
            statuses = set(query["clinical-status"][0].split(","))
            found = [r for r in found if _clinical_status(r) in statuses]
        if (query.get("_sort") or [""])[0] == "-date":
            found.sort(key=lambda r: str(r.get("effectiveDateTime", "")), reverse=True)
        if "_count" in query:
            found = found[: int(query["_count"][0])]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "entry": [
                {"fullUrl": f"{self.base}/{kind}/{r.get('id')}", "resource": r} for r in found
            ],
        }


def _codes(resource: Mapping[str, Any]) -> set[str]:
    codings = (resource.get("code") or {}).get("coding") or []
    return {f"{c.get('system')}|{c.get('code')}" for c in codings}


def _clinical_status(resource: Mapping[str, Any]) -> str | None:
    codings = (resource.get("clinicalStatus") or {}).get("coding") or []
    return str(codings[0].get("code")) if codings else None


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _handler(server: FhirServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server._record(self.path, self.headers.get("Authorization"))
            status, body = server._answer(self.path)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def chart_of(prefetch: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The patient and the other resources of a CDS Hooks prefetch (for :meth:`add_chart`)."""
    patient = dict(prefetch["patient"])
    resources = []
    for key, value in prefetch.items():
        if key == "patient" or not isinstance(value, dict):
            continue
        resources += [e["resource"] for e in value.get("entry") or []]
    return patient, resources
