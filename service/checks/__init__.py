"""Deterministic checks of model output: numbers, glossary terms, quality reports."""
