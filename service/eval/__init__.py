"""Measurement against references: translations made by the translate task (through a
``Reader``, so the model is called) scored against the official English of bilingual reports
(``translation``, parsed by ``reference``); the rule-based commitment detector scored against
a hand-labelled golden set (``commitments``, no model call)."""
