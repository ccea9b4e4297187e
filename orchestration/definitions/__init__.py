"""The definition format: parse, validate (pure), JSON Schema, diagram, diff."""
