"""Running notebooks, the report index, provenance and the session explorer."""
