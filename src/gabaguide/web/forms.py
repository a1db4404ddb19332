"""The assessment form: flat HTML fields to the Patient JSON, and back (to fill the form again).

Only the translation between a form and the JSON happens here; the Patient model validates, and its
sentences are shown next to the fields they name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gabaguide.domain import WEEKDAYS

MAX_MEDICATION_ROWS = 12
NUMBER_FIELDS = ("age_years", "weight_kg", "height_cm", "crcl_ml_min", "target_daily_mg")
CHOICE_FIELDS = ("patient_id", "sex", "dialysis", "goal", "indication", "product")
FLAG_FIELDS = ("pregnant", "breastfeeding", "alcohol_use")
LIST_FIELDS = ("allergies", "conditions", "failed_treatments")
DAY_NAMES = dict(
    zip(
        WEEKDAYS,
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        strict=True,
    )
)


def patient_data(
    form: Mapping[str, str], rows: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any], list[str]]:
    """The Patient JSON a submitted form stands for, and a sentence for each number field that
    holds text (that field is left out). Blank fields are left out too: never guessed."""
    data: dict[str, Any] = {}
    problems: list[str] = []

    def number(name: str, value: str) -> float | int | None:
        value = value.strip()
        if not value:
            return None
        try:
            x = float(value)
        except ValueError:
            problems.append(f"{name} must be a number; got {value!r}")
            return None
        return int(x) if x.is_integer() and name.endswith(("times_per_day",)) else x

    for name in NUMBER_FIELDS:
        x = number(name, form.get(name, ""))
        if x is not None:
            data[name] = x
    for name in CHOICE_FIELDS:
        if form.get(name, "").strip():
            data[name] = form[name].strip()
    for name in FLAG_FIELDS:
        value = form.get(name, "")
        if value in {"yes", "no"}:
            data[name] = value == "yes"
    for name in LIST_FIELDS:
        items = [t.strip() for t in form.get(name, "").replace("\n", ",").split(",")]
        if any(items):
            data[name] = [t for t in items if t]
    creatinine = number("serum_creatinine.value", form.get("creatinine_value", ""))
    if creatinine is not None:
        data["serum_creatinine"] = {"value": creatinine, "unit": form.get("creatinine_unit", "")}
    if form.get("current_product", "").strip():
        data["current_regimen"] = {
            "product": form["current_product"].strip(),
            "dose_mg": number("current_regimen.dose_mg", form.get("current_dose_mg", "")),
            "times_per_day": number(
                "current_regimen.times_per_day", form.get("current_times_per_day", "")
            ),
        }
    routine: dict[str, Any] = {
        key: form.get(key, "").strip()
        for key in ("wake", "sleep", "start_date", "dialysis_end")
        if form.get(key, "").strip()
    }
    meals = [t.strip() for t in form.get("meals", "").split(",") if t.strip()]
    if meals:
        routine["meals"] = meals
    days = [_weekday(d) for d in form.get("dialysis_days", "").split(",") if d.strip()]
    if days:
        routine["dialysis_days"] = days
    if routine:
        data["routine"] = routine
    meds: list[dict[str, Any]] = []
    names, doses, times = (rows.get(k, ()) for k in ("med_name", "med_dose_mg", "med_times"))
    for i, name in enumerate(names[:MAX_MEDICATION_ROWS]):
        if not name.strip():
            continue
        med: dict[str, Any] = {"name": name.strip()}
        if name.strip().isdigit():
            med["rxcui"] = name.strip()
        n = len(meds)
        dose = number(f"medications[{n}].dose_mg", doses[i] if i < len(doses) else "")
        per_day = number(f"medications[{n}].times_per_day", times[i] if i < len(times) else "")
        if dose is not None:
            med["dose_mg"] = dose
        if per_day is not None:
            med["times_per_day"] = int(per_day) if float(per_day).is_integer() else per_day
        meds.append(med)
    if meds:
        data["medications"] = meds
    return data, problems


def _weekday(text: str) -> str:
    """'Monday', 'mon' or 'Mon.' -> 'mon'; anything else as typed, for the error to name."""
    word = text.strip().lower().rstrip(".")
    return next((d for d in WEEKDAYS if word in (d, DAY_NAMES[d])), text.strip())


def form_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The form's field values for a Patient JSON (to show a demo patient or a rejected form)."""
    values: dict[str, Any] = {}
    for name in (*NUMBER_FIELDS, *CHOICE_FIELDS):
        if data.get(name) is not None:
            values[name] = _text(data[name])
    for name in FLAG_FIELDS:
        if data.get(name) is not None:
            values[name] = "yes" if data[name] else "no"
    for name in LIST_FIELDS:
        if data.get(name):
            values[name] = ", ".join(data[name])
    creat = data.get("serum_creatinine") or {}
    values["creatinine_value"] = _text(creat.get("value"))
    values["creatinine_unit"] = creat.get("unit") or "mg/dL"
    current = data.get("current_regimen") or {}
    values["current_product"] = current.get("product") or ""
    values["current_dose_mg"] = _text(current.get("dose_mg"))
    values["current_times_per_day"] = _text(current.get("times_per_day"))
    routine = data.get("routine") or {}
    for key in ("wake", "sleep", "start_date", "dialysis_end"):
        values[key] = routine.get(key) or ""
    values["meals"] = ", ".join(routine.get("meals") or ())
    values["dialysis_days"] = ", ".join(routine.get("dialysis_days") or ())
    values["medications"] = [
        {
            "name": m.get("name", ""),
            "dose_mg": _text(m.get("dose_mg")),
            "times_per_day": _text(m.get("times_per_day")),
        }
        for m in data.get("medications") or []
    ]
    return values


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
