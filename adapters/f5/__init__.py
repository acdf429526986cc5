"""F5 BIG-IP adapter over AS3 (`type: f5-as3`)."""

from adapters.f5.adapter import AS3Adapter

__all__ = ["AS3Adapter"]
