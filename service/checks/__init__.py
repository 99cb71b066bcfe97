"""Deterministic checks and repairs of model output.

Numbers, glossary terms, people's names, Chinese left in English, quality reports.
"""
