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
    return [FieldError(field=error_path(e, skip), message=error_sentence(e, skip)) for e in errors]


def from_request_error(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        skip = 1 if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else 0
        if e.get("type") == "json_invalid":
            out.append(FieldError(field="body", message=error_sentence(e)))
        else:
            out.append(
                FieldError(field=error_path(e, skip) or "body", message=error_sentence(e, skip))
            )
    return out


def from_input_error(exc: InputError) -> list[FieldError]:
    return [FieldError(field=_field_of(p), message=p) for p in exc.problems]


def from_pydantic(exc: ValidationError) -> list[FieldError]:
    return from_validation(exc.errors())


def body(detail: str, errors: Iterable[FieldError] = ()) -> dict[str, Any]:
    return ErrorBody(detail=detail, errors=tuple(errors)).model_dump()


def _field_of(problem: str) -> str:
    m = _LEADING_FIELD.match(problem)
    return m["field"] if m else "input"


class NotFoundError(Exception):
    """A page, source or patient that does not exist (404)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)
