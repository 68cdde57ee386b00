"""Push-list engine, BentoML service and API schemas (loads registered models, never training code)."""
