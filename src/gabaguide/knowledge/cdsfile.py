"""The shape of ``cds.toml``: the codes and units the CDS Hooks service reads from FHIR and its card
policy (minimum severity, indicators, grouped findings, override reasons)."""

from __future__ import annotations

from pydantic import Field

from gabaguide.domain import Severity
from gabaguide.knowledge.schema import Cite, NonEmptyCite, Record


class CardGroup(Record):
    id: str
    title: str
    findings: tuple[str, ...] = Field(min_length=1, description="finding codes shown as one card")
    corrects_dose: tuple[str, ...] = Field(
        (), description="findings for which the card suggests a corrected order"
    )


class Comedication(Record):
    finding_prefixes: tuple[str, ...] = Field(min_length=1)


class OverrideReason(Record):
    code: str
    display: str


class Indicators(Record):
    info: str
    caution: str
    warning: str
    contraindicated: str


class CardPolicy(Record):
    min_severity: Severity
    indicator: Indicators
    groups: tuple[CardGroup, ...] = ()
    comedication: Comedication
    override_reasons: tuple[OverrideReason, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class UnitRule(Record):
    ucum: tuple[str, ...] = Field(min_length=1, description="unit codes or strings accepted")
    to: str = Field(description="the unit the value is converted to")
    factor: float = Field(gt=0)


class ObservationCodes(Record):
    loinc: tuple[str, ...] = Field(min_length=1)
    units: tuple[UnitRule, ...] = Field(min_length=1)
    cite: Cite = NonEmptyCite


class Observations(Record):
    creatinine: ObservationCodes
    weight: ObservationCodes


class Code(Record):
    system: str
    code: str


class Pregnancy(Record):
    codes: tuple[Code, ...] = Field(min_length=1)
    words: tuple[str, ...] = ()
    cite: Cite = NonEmptyCite


class CdsFile(Record):
    cards: CardPolicy
    observations: Observations
    pregnancy: Pregnancy
