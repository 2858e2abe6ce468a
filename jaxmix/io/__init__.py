"""Pilot tables in (CSV/JSON, importers, examples); fit, mixture and export files out."""
