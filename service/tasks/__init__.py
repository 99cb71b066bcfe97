"""Document tasks: summary, translation and commitments (each receives its collaborators)."""
