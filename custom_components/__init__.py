"""Home Assistant custom integrations of this repository (importable for the tests)."""
