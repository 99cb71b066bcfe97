"""Measurement against hand-labelled references (no model calls of its own)."""
