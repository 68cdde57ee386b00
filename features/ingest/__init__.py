"""`grouppush ingest`: readers, coercion to the contract types, validation, dedup, derived
tables, quarantine of rejected rows and the run's report."""
