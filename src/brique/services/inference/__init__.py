"""Managed inference use cases: deployments (replicas as scheduler jobs) and the gateway's state."""
