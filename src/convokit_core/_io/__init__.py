"""Import and export: the JSONL interchange format and CSV with a column mapping."""
