"""A zoo of deliberately broken PixVerse clients: each makes one realistic mistake the contract must catch."""

from .async_clients import ASYNC_ZOO
from .async_clients import AsyncBrokenClient
from .clients import ZOO
from .clients import BrokenClient

__all__ = ["ASYNC_ZOO", "ZOO", "AsyncBrokenClient", "BrokenClient"]
