"""Data contract, ingest, simulator, feature computation and the Feast repository."""
