"""Firewall adapters: one package per device family."""
