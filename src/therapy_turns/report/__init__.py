"""Running notebooks, the report index, provenance, result sentences and the session explorer."""
