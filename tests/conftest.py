"""Shared fixtures."""

# the `shared` and `world` fixtures of the controller end-to-end tests
pytest_plugins = ("tests.connector.controller.harness",)
