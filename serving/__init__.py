"""Push-list engine, BentoML service and API schemas.

Loads registered models, never training code.
"""
