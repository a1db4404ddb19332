"""Errors as the API and the pages show them: one message per problem, each naming its field.

The JSON body of every 4xx answer is ``{"detail": "...", "errors": [{"field", "message"}]}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from gabaguide.domain import error_path, error_sentence
from gabaguide.errors import InputError

# Problems name their field first ("weight_kg must be ...", "medications[1].name ...").
_LEADING_FIELD = re.compile(r"^(--)?(?P<field>[A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_]\w*)*)\b")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str
    errors: tuple[FieldError, ...] = ()


def from_validation(errors: Sequence[Mapping[str, Any]], skip: int = 0) -> list[FieldError]:
    """FieldErrors from pydantic's (or FastAPI's, ``skip=1`` for ``body``) error dicts."""
    return [
        FieldError(field=error_path(e, skip), message=error_sentence(e, skip))
        for e in _one_per_problem(errors)
    ]


def _one_per_problem(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Pydantic adds "too short after validation" for a list whose bad item it already reported:
    that second error is the same problem, so it is dropped."""
    locs = [tuple(e.get("loc", ())) for e in errors]
    return [
        e
        for e, loc in zip(errors, locs, strict=True)
        if not (e.get("type") == "too_short" and any(o[: len(loc)] == loc != o for o in locs))
    ]


def from_request_error(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for e in _one_per_problem(exc.errors()):
        loc = tuple(e.get("loc", ()))
        skip = 1 if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else 0
        if e.get("type") == "json_invalid" or not loc[skip:]:
            message = error_sentence(e, skip).replace("input ", "body ", 1)
            out.append(FieldError(field="body", message=message))
        else:
            out.append(FieldError(field=error_path(e, skip), message=error_sentence(e, skip)))
    return out


def from_input_error(exc: InputError, fields: Iterable[str] | None = None) -> list[FieldError]:
    """FieldErrors from the core's sentences, which name their field first. With ``fields`` (the
    request's field names), a first word that is not one of them gives the field ``body``."""
    out = []
    for p in exc.problems:
        field = _field_of(p)
        if fields is not None and field.split(".")[0].split("[")[0] not in fields:
            field = "body"
        out.append(FieldError(field=field, message=p.removeprefix("body: ")))
    return out


def problems_by_field(problems: list[str]) -> dict[str, list[str]]:
    """The core's problem sentences grouped by the field each names (for a form's inputs)."""
    out: dict[str, list[str]] = {}
    for e in from_input_error(InputError(problems)) if problems else ():
        out.setdefault(e.field, []).append(e.message)
    return out


def from_pydantic(exc: ValidationError) -> list[FieldError]:
    return from_validation(exc.errors())


def body(detail: str, errors: Iterable[FieldError] = ()) -> dict[str, Any]:
    return ErrorBody(detail=detail, errors=tuple(errors)).model_dump()


def _field_of(problem: str) -> str:
    m = _LEADING_FIELD.match(problem)
    return m["field"] if m else "body"


class NotFoundError(Exception):
    """A page, source or patient that does not exist (404)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)
