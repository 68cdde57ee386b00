"""The operator page at /ui: groups, push-list previews, models and data freshness."""
