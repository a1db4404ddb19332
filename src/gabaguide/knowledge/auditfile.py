"""The shape of ``audit.toml``: the population audit's rules, what each adds to the knowledge the
point-of-care check already holds, and the report's age bands."""

from __future__ import annotations

from pydantic import Field

from gabaguide.knowledge.schema import Cite, NonEmptyCite, Record


class AgeBand(Record):
    label: str
    min: float = Field(ge=0, description="years at the prescription's start, up to the next band")


class Population(Record):
    elderly_screen: str = Field(description="the screen whose age defines 'elderly'")
    age_bands: tuple[AgeBand, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class AuditRule(Record):
    id: str = Field(pattern=r"^[a-z]+\.[a-z-]+$")
    title: str
    finding: str = Field(description="the catalogue finding the rule corresponds to")
    definition: str
    interaction: str | None = Field(None, description="interactions.toml rule whose classes count")
    levels_mg: dict[str, float] = Field(
        default_factory=dict, description="per product id: the daily dose level the rule uses"
    )
    cite: Cite = NonEmptyCite


class AuditFile(Record):
    population: Population
    rules: tuple[AuditRule, ...] = Field(min_length=1)
