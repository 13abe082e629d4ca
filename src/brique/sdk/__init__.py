"""Python SDK for the Brique API: `from brique.sdk import Client`."""

from brique.sdk.client import ApiError, Client, ConnectionFailed

__all__ = ["ApiError", "Client", "ConnectionFailed"]
