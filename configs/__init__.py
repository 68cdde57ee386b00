"""Settings, column names and YAML presets shared by every GroupPush stage."""
