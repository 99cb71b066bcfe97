"""The extraction schema must satisfy strict structured-output rules (OpenAI strict mode)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from service.tasks.commitments.schema import (
    Commitment,
    ExtractedCommitment,
    ExtractionOutput,
)

PAYLOAD: dict[str, Any] = {
    "commitments": [
        {
            "quote_zh": "力爭年底前開工建設自由電子激光科學裝置",
            "actor_zh": None,
            "actor_en": None,
            "action_zh": "開工建設自由電子激光科學裝置",
            "action_en": "start construction of the free-electron laser facility",
            "targets": [],
            "deadline_text": "年底前",
            "deadline_start": None,
            "deadline_end": "2021-12-31",
            "deadline_precision": "year",
            "sector": "science_technology",
            "modality": "aspirational",
            "trigger": "力爭",
            "milestone": "start_construction",
            "gloss_en": "Strive to start building the free-electron laser facility by year end.",
        }
    ]
}


def _objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    objects = dict(schema.get("$defs", {}))
    objects["<root>"] = schema
    return objects


def test_every_property_is_required_and_has_no_default() -> None:
    for name, obj in _objects(ExtractionOutput.model_json_schema()).items():
        props = obj["properties"]
        assert set(obj["required"]) == set(props), name
        for key, prop in props.items():
            assert "default" not in prop, f"{name}.{key} has a default"


def test_unions_only_with_null() -> None:
    for name, obj in _objects(ExtractionOutput.model_json_schema()).items():
        for key, prop in obj["properties"].items():
            branches = prop.get("anyOf")
            if branches is None:
                continue
            assert len(branches) == 2, f"{name}.{key}"
            assert {"type": "null"} in branches, f"{name}.{key}"


def test_objects_nest_at_most_one_level_below_the_commitment() -> None:
    defs = ExtractionOutput.model_json_schema()["$defs"]
    assert set(defs) == {"ExtractedCommitment", "Target"}
    assert all("$ref" not in str(prop) for prop in defs["Target"]["properties"].values())


def test_enums_are_closed_lists() -> None:
    props = ExtractionOutput.model_json_schema()["$defs"]["ExtractedCommitment"]["properties"]
    assert "binding" in props["modality"]["enum"]
    assert "hong_kong_macao_cooperation" in props["sector"]["enum"]
    milestone = next(b for b in props["milestone"]["anyOf"] if "enum" in b)
    assert "start_construction" in milestone["enum"]


def test_realistic_payload_validates() -> None:
    out = ExtractionOutput.model_validate(PAYLOAD)
    assert out.commitments[0].milestone == "start_construction"


def test_missing_nullable_key_is_rejected() -> None:
    bad = {k: v for k, v in PAYLOAD["commitments"][0].items() if k != "actor_zh"}
    with pytest.raises(ValidationError):
        ExtractedCommitment.model_validate(bad)


def test_unknown_sector_is_rejected() -> None:
    bad = dict(PAYLOAD["commitments"][0], sector="space")
    with pytest.raises(ValidationError):
        ExtractedCommitment.model_validate(bad)


def test_commitment_extends_extraction_with_grounding_defaults() -> None:
    c = Commitment(**PAYLOAD["commitments"][0], id="x", doc_id="d")
    assert c.alignment == "unaligned" and not c.aligned and c.mentions == []
