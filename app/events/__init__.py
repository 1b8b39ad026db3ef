"""Typed domain events: the catalogue (types), raising and handlers (dispatch), the durable
record (models, store)."""
