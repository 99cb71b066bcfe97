"""The test prompt files (``tests/data/prompts``) and the catalog they are checked against:
``echo`` (free text) and ``extract`` (the ``TestItems`` schema)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from service.llm.prompts import PromptCatalog

DATA = Path(__file__).parent / "data" / "prompts"


class ItemList(BaseModel):
    items: list[str]


TEST_CATALOG = PromptCatalog(
    schemas={"TestItems": ItemList}, strategies={"echo": ("plain",), "extract": ("json",)}
)
