"""Schema revisions, oldest first; each file's DDL is frozen once released."""
