"""Domain types: what a caller gives (:class:`Patient`) and what gabaguide answers.

One definition serves the CLI, the JSON API, the JSON Schemas and the OpenAPI document. Input is
validated once, here, into frozen models; the rules trust it afterwards. :func:`parse_patient` turns
every validation problem into one sentence naming the field and the allowed range.

The numeric limits below are *plausibility* limits for input (a weight of 900 kg is a typing error),
not clinical facts; every dose, band and threshold the rules use comes from the knowledge base.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gabaguide.errors import InputError

Sex = Literal["female", "male"]
Dialysis = Literal["none", "hemodialysis", "peritoneal"]
Goal = Literal["start", "review", "stop", "switch"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Severity = Literal["info", "caution", "warning", "contraindicated"]
CreatinineUnit = Literal["mg/dL", "umol/L"]

SEVERITY_ORDER: Mapping[Severity, int] = {
    "info": 0,
    "caution": 1,
    "warning": 2,
    "contraindicated": 3,
}


def _range_check(lo: float, hi: float, unit: str) -> Callable[[float], float]:
    def check(value: float) -> float:
        if not lo <= value <= hi:
            raise PydanticCustomError(
                "out_of_range",
                "must be between {lo} and {hi}{unit}; got {value}",
                {
                    "lo": _num(lo),
                    "hi": _num(hi),
                    "unit": f" {unit}" if unit else "",
                    "value": _num(value),
                },
            )
        return value

    return check


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _schema_range(lo: float, hi: float, description: str) -> Any:
    return Field(description=description, json_schema_extra={"minimum": lo, "maximum": hi})


_INPUT = ConfigDict(extra="forbid", frozen=True)
StrictBool = Annotated[bool, Strict()]
_OUTPUT = ConfigDict(extra="forbid", frozen=True)

# Plausibility limits for creatinine in each unit (1 mg/dL = 88.4 umol/L; the conversion used by the
# rules lives in the knowledge base).
CREATININE_LIMITS: Mapping[str, tuple[float, float]] = {
    "mg/dL": (0.1, 25.0),
    "umol/L": (9.0, 2200.0),
}

AgeYears = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(0, 120, "years")),
    _schema_range(0, 120, "Age in years (fractions allowed for children)."),
]
# Plausible input ranges (input validation, not clinical advice); the PK simulator shares them.
WEIGHT_KG_RANGE = (0.5, 400.0)
CRCL_ML_MIN_RANGE = (0.0, 250.0)
WeightKg = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(*WEIGHT_KG_RANGE, "kg")),
    _schema_range(*WEIGHT_KG_RANGE, "Actual body weight in kilograms."),
]
HeightCm = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(30, 250, "cm")),
    _schema_range(30, 250, "Height in centimetres."),
]
CrClMlMin = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(*CRCL_ML_MIN_RANGE, "mL/min")),
    _schema_range(*CRCL_ML_MIN_RANGE, "Measured creatinine clearance; overrides Cockcroft-Gault."),
]
DOSE_MG_RANGE = (0.5, 10000.0)
DoseMg = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(*DOSE_MG_RANGE, "mg")),
    _schema_range(*DOSE_MG_RANGE, "Amount per administration in milligrams."),
]
DailyMg = Annotated[
    float,
    Strict(),
    AfterValidator(_range_check(1, 20000, "mg/day")),
    _schema_range(1, 20000, "Total daily dose in milligrams."),
]
TimesPerDay = Annotated[
    int,
    Strict(),
    AfterValidator(_range_check(1, 6, "times a day")),
    _schema_range(1, 6, "Administrations per day."),
]
ShortText = Annotated[str, Strict(), Field(min_length=1, max_length=200)]
ClockTime = Annotated[
    str,
    Strict(),
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="Clock time HH:MM (24 h)."),
]
IsoDate = Annotated[
    str,
    Strict(),
    Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="Calendar date YYYY-MM-DD."),
]


def _real_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "date_invalid", "must be a real calendar date YYYY-MM-DD; got {value}", {"value": value}
        ) from None
    return value


CalendarDate = Annotated[IsoDate, AfterValidator(_real_date)]
"""A date YYYY-MM-DD that exists on the calendar."""


class SerumCreatinine(BaseModel):
    """A serum creatinine result with its unit."""

    model_config = _INPUT

    value: Annotated[float, Strict()] = Field(description="Serum creatinine value.")
    unit: CreatinineUnit = Field(description="'mg/dL' or 'umol/L'.")

    @model_validator(mode="after")
    def _plausible(self) -> SerumCreatinine:
        lo, hi = CREATININE_LIMITS[self.unit]
        if not lo <= self.value <= hi:
            raise PydanticCustomError(
                "out_of_range",
                "value must be between {lo} and {hi} {unit}; got {value}",
                {"lo": _num(lo), "hi": _num(hi), "unit": self.unit, "value": _num(self.value)},
            )
        return self


class Medication(BaseModel):
    """Another medicine the patient takes (name and/or RxNorm code)."""

    model_config = _INPUT

    name: ShortText
    rxcui: Annotated[str, Strict(), Field(pattern=r"^[0-9]{1,10}$")] | None = None
    dose_mg: DoseMg | None = Field(
        None, description="Amount per administration; for an opioid combination, the opioid's mg."
    )
    times_per_day: TimesPerDay | None = None
    times: tuple[ClockTime, ...] = Field(
        (), max_length=12, description="Usual clock times it is taken (used to space antacids)."
    )


class Routine(BaseModel):
    """The patient's day, for the dose-time scheduler. Times are local clock times."""

    model_config = _INPUT

    wake: ClockTime | None = Field(None, description="Usual time of getting up.")
    sleep: ClockTime | None = Field(None, description="Usual bedtime.")
    meals: tuple[ClockTime, ...] = Field((), max_length=6, description="Usual meal times.")
    start_date: CalendarDate | None = Field(None, description="Day 1 of the plan (for calendars).")
    dialysis_days: tuple[Weekday, ...] = Field(
        (),
        max_length=7,
        description="Weekdays of hemodialysis sessions, e.g. ['mon', 'wed', 'fri'].",
    )
    dialysis_end: ClockTime | None = Field(
        None, description="Usual time a hemodialysis session ends (the supplement is taken then)."
    )


class CurrentRegimen(BaseModel):
    """The gabapentinoid regimen the patient takes now."""

    model_config = _INPUT

    product: ShortText = Field(description="Product id from the knowledge base, e.g. 'gabapentin'.")
    dose_mg: DoseMg
    times_per_day: TimesPerDay


class Patient(BaseModel):
    """One patient as the caller describes them. Unknown fields are an error."""

    model_config = _INPUT

    patient_id: ShortText | None = Field(None, description="Caller's id, echoed in the result.")
    age_years: AgeYears | None = None
    sex: Sex | None = None
    weight_kg: WeightKg | None = None
    height_cm: HeightCm | None = None
    serum_creatinine: SerumCreatinine | None = None
    crcl_ml_min: CrClMlMin | None = None
    dialysis: Dialysis | None = Field(
        None,
        description="'none', 'hemodialysis' or 'peritoneal'; not given = not known (asked for when "
        "kidney function is low enough for it to matter).",
    )
    pregnant: StrictBool | None = None
    breastfeeding: StrictBool | None = None
    allergies: tuple[ShortText, ...] = ()
    conditions: tuple[ShortText, ...] = ()
    medications: tuple[Medication, ...] = ()
    indication: ShortText | None = None
    goal: Goal = "start"
    product: ShortText | None = Field(
        None, description="Product to plan (default 'gabapentin' immediate release)."
    )
    current_regimen: CurrentRegimen | None = None
    target_daily_mg: DailyMg | None = None
    alcohol_use: StrictBool | None = Field(None, description="Does the patient drink alcohol?")
    failed_treatments: tuple[ShortText, ...] = Field(
        (),
        description="Treatments tried without success, e.g. 'NSAIDs', 'opioids', 'amitriptyline'.",
    )
    routine: Routine | None = Field(None, description="Waking hours, meals and start date.")


class Citation(BaseModel):
    """Where a fact can be checked: a source id from the knowledge base and a place in it."""

    model_config = _OUTPUT

    source: str
    locator: str


class Finding(BaseModel):
    """A clinical observation with its severity, reasons and citations."""

    model_config = _OUTPUT

    code: str
    severity: Severity
    summary: str
    detail: str
    citations: tuple[Citation, ...]


class Unit(BaseModel):
    """Part of one dose: ``count`` pieces (or mL of solution) of a form of ``strength_mg``."""

    model_config = _OUTPUT

    strength_mg: float = Field(description="Milligrams per piece, or per mL for a solution.")
    form: str
    count: float = Field(description="Pieces (0.5 = half a scored tablet) or millilitres.")
    measure: Literal["capsule", "tablet", "mL"]


class Dose(BaseModel):
    """One administration: clock time, amount, and what to take."""

    model_config = _OUTPUT

    time: str = Field(description="Clock time HH:MM.")
    mg: float
    units: tuple[Unit, ...]
    note: str | None = None


class PlanDay(BaseModel):
    """All doses of one day of a plan."""

    model_config = _OUTPUT

    day: int
    daily_mg: float
    doses: tuple[Dose, ...]


class Maintenance(BaseModel):
    """The dose the titration arrives at and keeps."""

    model_config = _OUTPUT

    daily_mg: float
    doses: tuple[Dose, ...]
    every_n_days: int = 1


class RenalColumn(BaseModel):
    """How a target at normal kidney function was read through the label's renal grid."""

    model_config = _OUTPUT

    row: str = Field(description="The kidney-function row (CrCl band) used.")
    column: int = Field(description="The label's column, 1 = the lowest regimen.")
    columns: int = Field(description="How many columns the label prints.")
    normal_daily_mg: float = Field(description="The target as a dose at normal kidney function.")
    row_daily_mg: float = Field(description="Its equivalent in this row, in mg/day.")
    text: str


class DialysisSupplement(BaseModel):
    """The dose after each hemodialysis session, paired with the maintenance dose by column."""

    model_config = _OUTPUT

    mg: float
    units: tuple[Unit, ...]
    after_hours_of_dialysis: float
    days: tuple[Weekday, ...] = Field((), description="Session weekdays; empty = not yet known.")
    time: str | None = Field(None, description="Clock time the session ends; None = not known.")
    row_daily_mg: tuple[float, ...] = Field(
        (), description="The row's daily dose in each column of the renal table."
    )
    column_supplements_mg: tuple[float, ...] = Field(
        (),
        description="The supplement printed in each column: a titration day gets the one of its "
        "own dose's column.",
    )
    citations: tuple[Citation, ...] = ()


class Plan(BaseModel):
    """Titration to a target, the maintenance regimen, the maximum, and a taper when stopping."""

    model_config = _OUTPUT

    product: str
    scheme: str | None = Field(None, description="Dosing scheme id from the knowledge base.")
    target_daily_mg: float | None
    max_daily_mg: float | None
    titration: tuple[PlanDay, ...] = ()
    maintenance: Maintenance | None = None
    taper: tuple[PlanDay, ...] = ()
    switch: Switch | None = None
    instructions: tuple[str, ...] = ()
    held: bool = Field(
        False,
        description="A held start: the dose stays here until the missing data is given.",
    )
    renal_column: RenalColumn | None = Field(
        None, description="How the target was read through the renal table's columns."
    )
    dialysis_supplement: DialysisSupplement | None = None


class Renal(BaseModel):
    """Kidney function and the label's dose band for it."""

    model_config = _OUTPUT

    crcl_ml_min: float | None
    method: Literal["measured", "cockcroft-gault", "not-available"]
    band: str | None
    daily_min_mg: float | None
    daily_max_mg: float | None
    doses_per_day: int | None
    hemodialysis_supplement_mg: float | None
    citations: tuple[Citation, ...] = ()


class Switch(BaseModel):
    """How a gabapentin dose converts to pregabalin, and the renal limit applied."""

    model_config = _OUTPUT

    from_product: str
    from_daily_mg: float
    to_product: str
    table_row: str = Field(description="The conversion table's row for the current dose.")
    converted_daily_mg: float = Field(description="Pregabalin mg/day the table gives.")
    daily_mg: float = Field(description="Pregabalin mg/day planned, after renal and label limits.")
    doses_per_day: int
    last_previous_dose: str = Field(description="When the last dose of the old product is taken.")
    caveat: str
    citations: tuple[Citation, ...]


class ComparisonRow(BaseModel):
    """One feature of gabapentin and an alternative side by side, as the sources give it."""

    model_config = _OUTPUT

    feature: str
    gabapentin: str
    alternative: str
    article_says: str | None = Field(None, description="The article's claim, where it differs.")
    citations: tuple[Citation, ...]


class Caution(BaseModel):
    """A caution about an alternative that applies to this patient."""

    model_config = _OUTPUT

    severity: Severity
    summary: str
    citations: tuple[Citation, ...]


class Alternative(BaseModel):
    """A treatment to consider instead of gabapentin, with its place in the guidelines."""

    model_config = _OUTPUT

    id: str
    name: str
    drug_class: str
    line_of_therapy: str
    usual_dose: str
    notes: tuple[str, ...] = ()
    cautions: tuple[Caution, ...] = Field((), description="Cautions for this patient.")
    comparison: tuple[ComparisonRow, ...] = ()
    citations: tuple[Citation, ...]


Phase = Literal["titration", "maintenance", "taper", "switch", "dialysis-supplement"]


class ScheduledDose(BaseModel):
    """One dose at a clock time on one day of the plan."""

    model_config = _OUTPUT

    day: int = Field(description="Day of the plan, 1 = first day.")
    date: str | None = Field(None, description="Calendar date, when a start date is known.")
    time: str
    phase: Phase
    product: str
    mg: float
    units: tuple[Unit, ...]
    note: str | None = None


class DispenseLine(BaseModel):
    """How much of one strength a phase of the plan needs."""

    model_config = _OUTPUT

    phase: Literal["titration", "maintenance", "taper", "switch", "dialysis-supplement", "total"]
    days: int
    product: str
    form: str
    strength_mg: float
    measure: Literal["capsule", "tablet", "mL"]
    quantity: float = Field(description="Pieces (halves counted as 0.5) or millilitres.")


PlanStatus = Literal["planned", "held", "not-planned", "not-asked"]


class InputUsed(BaseModel):
    """One value the answer rests on, echoed with its unit so a typing error can be seen."""

    model_config = _OUTPUT

    field: str
    value: str


class Assessment(BaseModel):
    """gabaguide's answer for one patient. Advice for a clinician; never a replacement for one."""

    model_config = _OUTPUT

    patient_id: str | None = None
    plan_status: PlanStatus = Field(
        "not-asked",
        description="planned; held (a start that is safe in every kidney-function row, until the "
        "missing data is given); not-planned (the findings say why and what is needed); not-asked "
        "(goal review).",
    )
    inputs: tuple[InputUsed, ...] = Field((), description="The values the answer used, with units.")
    renal: Renal
    plan: Plan | None
    findings: tuple[Finding, ...]
    alternatives: tuple[Alternative, ...] = Field(
        (), description="Alternatives to gabapentin, with cautions for this patient."
    )
    schedule: tuple[ScheduledDose, ...] = Field(
        (), description="Every planned dose at a clock time inside the patient's day."
    )
    dispensing: tuple[DispenseLine, ...] = Field(
        (),
        description="Pieces of each strength the titration, 30 days of maintenance and the taper need.",
    )
    mme_daily: float | None = Field(
        None,
        description="Daily morphine milligram equivalents of the opioids taken, when computable.",
    )


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "input"


def error_path(error: Mapping[str, Any], skip: int = 0) -> str:
    """The dotted path of a pydantic error's field (``medications[0].dose_mg``); ``skip`` drops
    leading parts a framework adds (FastAPI's ``body``)."""
    loc = tuple(error["loc"])[skip:]
    return _path(tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-"))))


def error_sentence(error: Mapping[str, Any], skip: int = 0) -> str:
    """One sentence for one pydantic error, naming its field."""
    kind = error["type"]
    path = error_path(error, skip)
    given = error.get("input")
    if kind == "out_of_range":
        return f"{path} {error['msg']}"
    if kind == "json_invalid":
        return f"not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
    if kind == "missing":
        return f"{path} is required"
    if kind == "extra_forbidden":
        return f"{path} is not a known field"
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{path} must be one of {allowed}; got {given!r}"
    if kind in {"string_too_short", "string_too_long"}:
        ctx = error.get("ctx", {})
        if kind == "string_too_short":
            low = ctx.get("min_length", 1)
            return f"{path} must be at least {low} character{'s' if low != 1 else ''} long"
        return f"{path} must be at most {ctx.get('max_length')} characters long"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{path} must be {words} {error.get('ctx', {}).get(key)}; got {given!r}"
    if kind == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        if "[0-5]" in pattern:
            return f"{path} must be a clock time HH:MM between 00:00 and 23:59; got {given!r}"
        if "{4}" in pattern:
            return f"{path} must be a date YYYY-MM-DD; got {given!r}"
        return f"{path} must be digits only (an RxNorm code); got {given!r}"
    if kind == "date_invalid":
        return f"{path} {error['msg']}"
    if kind == "too_long":
        limit = error.get("ctx", {}).get("max_length", "")
        return f"{path} must have at most {limit} entries"
    readable = {
        "float_type": "a number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
        "bool_type": "true or false",
        "string_type": "text",
        "model_type": "an object",
        "tuple_type": "a list",
        "model_attributes_type": "an object",
        "float_parsing": "a number",
        "int_parsing": "a whole number",
        "finite_number": "a finite number",
    }
    if kind in readable:
        return f"{path} must be {readable[kind]}; got {given!r}"
    return f"{path}: {error['msg']}"


def input_problems(error: ValidationError) -> list[str]:
    """One sentence per problem in a pydantic ValidationError, each naming its field."""
    return [error_sentence(e) for e in error.errors()]


def parse_patient(data: object) -> Patient:
    """Validate a decoded JSON value as a :class:`Patient`; raise :class:`InputError` if it is not one."""
    if not isinstance(data, dict):
        raise InputError([f"input must be a JSON object (one patient); got {type(data).__name__}"])
    try:
        return Patient.model_validate(data)
    except ValidationError as exc:
        raise InputError(input_problems(exc)) from None


class InteractionsRequest(BaseModel):
    """The quick interaction check's input: other medicines (and alcohol) against one product."""

    model_config = _INPUT

    medications: tuple[Medication, ...] = Field(
        max_length=50, description="The other medicines, each a name, brand or RxNorm code."
    )
    product: ShortText = Field("gabapentin", description="Gabapentinoid product id or brand.")
    alcohol_use: StrictBool | None = Field(None, description="Does the patient drink alcohol?")

    def as_patient(self) -> Patient:
        return Patient(
            medications=self.medications, product=self.product, alcohol_use=self.alcohol_use
        )


class InteractionCheck(BaseModel):
    """The quick interaction check's answer."""

    model_config = _OUTPUT

    product: str
    mme_daily: float | None = Field(
        description="Daily MME of the opioids named, when every one could be counted."
    )
    mme_parts: tuple[str, ...] = Field((), description="How each opioid's MME was counted.")
    findings: tuple[Finding, ...]


class ScheduleReport(BaseModel):
    """Dose times, what to dispense and the scheduling notes of one assessment."""

    model_config = _OUTPUT

    patient_id: str | None
    schedule: tuple[ScheduledDose, ...]
    dispensing: tuple[DispenseLine, ...]
    findings: tuple[Finding, ...]
