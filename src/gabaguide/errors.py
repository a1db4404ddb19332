"""Errors gabaguide raises.

An exception means "cannot decide"; a clinical caution is never an exception but a
:class:`~gabaguide.domain.Finding` inside the result. Shells translate these errors: the CLI prints
the messages and exits 2, the web answers 422.

::

    GabaguideError                 base of everything raised on purpose
    ├── InputError                 the caller's data is wrong; ``problems`` holds one line per field
    └── KnowledgeError             a knowledge file is broken (unknown field, bad unit, unknown source)
"""

from __future__ import annotations

from collections.abc import Sequence


class GabaguideError(Exception):
    """Base class for the errors gabaguide raises on purpose."""


class InputError(GabaguideError):
    """Input that cannot be used; ``problems`` has one human sentence per problem, naming the field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or ("input is not valid",)
        super().__init__("; ".join(self.problems))


class KnowledgeError(GabaguideError):
    """A knowledge data file that fails validation; ``problems`` names file, record and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or ("knowledge base is not valid",)
        super().__init__("; ".join(self.problems))
