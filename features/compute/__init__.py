"""The offline feature computation behind `grouppush features build`: build plan, inputs,
per-table compute stages (DuckDB, or Spark through features.engine_spark), tags, summaries."""
