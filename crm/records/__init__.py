"""Modules, their fields and records, data-storage tables, funnels and macro buttons:
one JSON document per record (Record.data), validated and normalised by field type."""
