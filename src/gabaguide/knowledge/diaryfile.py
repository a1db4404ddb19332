"""The shape of ``diary.toml``: diary scales, side-effect checklist, red flags, outcome categories
and missed-dose instructions. Validated like every other knowledge file (strict, cited)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gabaguide.knowledge.schema import Cite, NonEmptyCite, Record


class Scale(Record):
    label: str
    min: int
    max: int
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class Scales(Record):
    pain: Scale
    sleep_interference: Scale


class OutcomeCategory(Record):
    id: str
    label: str
    min_reduction_pct: float = Field(gt=0, le=100)
    cite: Cite = NonEmptyCite


class BelowCategories(Record):
    id: str
    label: str
    cite: Cite = NonEmptyCite


class TrialReference(Record):
    fixed_dose_weeks: int = Field(gt=0)
    explanation: str
    cite: Cite = NonEmptyCite


class Outcomes(Record):
    window_days: int = Field(gt=0)
    min_entries_in_window: int = Field(gt=0)
    baseline_days_before_start: int = Field(gt=0)
    explanation: str
    categories: tuple[OutcomeCategory, ...] = Field(min_length=1)
    below: BelowCategories
    trial: TrialReference
    cite: Cite = NonEmptyCite

    @model_validator(mode="after")
    def _consistent(self) -> Outcomes:
        if self.min_entries_in_window > self.window_days:
            raise ValueError("min_entries_in_window cannot exceed window_days")
        cuts = [c.min_reduction_pct for c in self.categories]
        if cuts != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts):
            raise ValueError("categories must be listed from the highest threshold down")
        return self


class SideEffect(Record):
    id: str
    label: str
    reactions: tuple[str, ...] = Field(
        min_length=1, description="adverse-reaction record ids; their citations apply"
    )


class RedFlag(Record):
    id: str
    label: str
    action: Literal["emergency", "call-prescriber"]
    instruction: str
    statements: tuple[str, ...] = Field(
        min_length=1, description="warning statement ids; their citations apply"
    )


class MissedDose(Record):
    products: tuple[str, ...] = Field(min_length=1)
    instruction: str
    cite: Cite = NonEmptyCite


class Instruction(Record):
    instruction: str
    cite: Cite = NonEmptyCite


class DiaryFile(Record):
    scales: Scales
    outcomes: Outcomes
    side_effects: tuple[SideEffect, ...] = Field(min_length=1)
    red_flags: tuple[RedFlag, ...] = Field(min_length=1)
    missed_doses: tuple[MissedDose, ...] = ()
    missed_dose_default: Instruction
    never_double: Instruction
    never_self_adjust: Instruction
