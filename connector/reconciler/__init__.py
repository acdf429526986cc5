"""Reconciliation: from the compiled desired state to each device, one device at a time."""
