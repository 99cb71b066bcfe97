"""Targets over time: what documents of one series promise for the same indicator, by year.

``find`` reads one paragraph (rules, no model), ``series`` groups documents and builds the
table, ``inputs`` reads a folder (bilingual reference files or ordinary inputs).
"""
