"""Files shipped with the package: bundled models and their model cards."""
