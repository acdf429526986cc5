"""Stateful stand-ins for the Kubernetes API server and the firewalls, speaking their wire protocols."""
