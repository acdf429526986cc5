"""fusion-connector: syncs Kubernetes identity and egress rules to perimeter firewalls."""

__version__ = "0.1.0"
