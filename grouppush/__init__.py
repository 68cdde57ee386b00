"""The grouppush command-line front door."""
