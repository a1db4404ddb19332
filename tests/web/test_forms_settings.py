"""The assessment form's translation to Patient JSON, and settings from the environment."""

from __future__ import annotations

import pytest

from gabaguide import parse_patient
from gabaguide.errors import InputError
from gabaguide.web import Settings
from gabaguide.web.forms import form_values, patient_data

FULL = {
    "patient_id": "p1",
    "age_years": 68,
    "sex": "female",
    "weight_kg": 70.5,
    "serum_creatinine": {"value": 1.3, "unit": "mg/dL"},
    "dialysis": "none",
    "pregnant": False,
    "alcohol_use": True,
    "allergies": ["penicillin"],
    "conditions": ["COPD", "depression"],
    "medications": [{"name": "oxycodone", "dose_mg": 10, "times_per_day": 3}, {"name": "Maalox"}],
    "indication": "postherpetic neuralgia",
    "goal": "stop",
    "current_regimen": {"product": "gabapentin", "dose_mg": 300, "times_per_day": 3},
    "target_daily_mg": 900,
    "failed_treatments": ["NSAIDs"],
    "routine": {
        "wake": "07:00",
        "sleep": "23:00",
        "meals": ["08:00", "12:30", "18:30"],
        "start_date": "2026-12-01",
    },
}


def _submit(values: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    meds = values.pop("medications")
    assert isinstance(meds, list)
    rows = {
        "med_name": [m["name"] for m in meds],
        "med_dose_mg": [m["dose_mg"] for m in meds],
        "med_times": [m["times_per_day"] for m in meds],
    }
    return patient_data({k: str(v) for k, v in values.items()}, rows)


def test_a_form_filled_from_a_patient_submits_the_same_patient() -> None:
    data, problems = _submit(form_values(FULL))
    assert problems == []
    assert parse_patient(data) == parse_patient(FULL)


def test_blank_fields_are_left_out_never_guessed() -> None:
    data, problems = patient_data({"age_years": " ", "crcl_ml_min": "", "sex": ""}, {})
    assert (data, problems) == ({}, [])


def test_text_in_a_number_field_names_the_field() -> None:
    data, problems = patient_data(
        {"age_years": "old", "weight_kg": "70"},
        {"med_name": ["oxycodone"], "med_dose_mg": ["ten"], "med_times": ["3"]},
    )
    assert problems == [
        "age_years must be a number; got 'old'",
        "medications[0].dose_mg must be a number; got 'ten'",
    ]
    assert data == {"weight_kg": 70.0, "medications": [{"name": "oxycodone", "times_per_day": 3}]}


def test_settings_read_the_environment() -> None:
    s = Settings.from_env(
        {
            "GABAGUIDE_DATABASE_URL": "sqlite:///x.db",
            "GABAGUIDE_REACTION_LIMIT": "5",
            "GABAGUIDE_LOAD_DEMO": "no",
            "GABAGUIDE_SECURE_COOKIES": "true",
        }
    )
    assert (s.database_url, s.reaction_limit, s.load_demo, s.secure_cookies) == (
        "sqlite:///x.db",
        5,
        False,
        True,
    )
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"GABAGUIDE_REACTION_LIMIT": "many"},
            "GABAGUIDE_REACTION_LIMIT must be a whole number; got 'many'",
            id="not-int",
        ),
        pytest.param(
            {"GABAGUIDE_LOAD_DEMO": "maybe"},
            "GABAGUIDE_LOAD_DEMO must be true or false; got 'maybe'",
            id="not-bool",
        ),
        pytest.param(
            {"GABAGUIDE_REACTION_LIMIT": "0"},
            "GABAGUIDE_REACTION_LIMIT must be at least 1",
            id="zero",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as info:
        Settings.from_env(env)
    assert info.value.problems == (message,)
