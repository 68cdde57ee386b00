"""`grouppush simulate`: community-commerce data with known ground truth. Only the CLI (and
tests and benchmarks) import it: an import-linter contract in pyproject.toml."""
