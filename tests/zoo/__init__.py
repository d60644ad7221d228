"""A zoo of deliberately broken PixVerse clients: each makes one realistic mistake the contract must catch."""

from .clients import ZOO
from .clients import BrokenClient

__all__ = ["ZOO", "BrokenClient"]
