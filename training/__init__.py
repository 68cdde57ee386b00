"""Point-in-time training sets, models, evaluation, MLflow logging and registry."""
