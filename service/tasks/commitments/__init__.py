"""Commitments: model extraction (schema, ground, merge) and the rule-based detector (rules)."""

__all__: list[str] = []
