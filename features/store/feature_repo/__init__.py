"""The Feast repository: definitions.py (objects) and a feature_store.yaml template."""
