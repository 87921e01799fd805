"""Emulated bench instruments (logger, supply, TEC controller) behind a line interface."""

from .line import LineInstrument, LineSplitter, Wait

__all__ = ["LineInstrument", "LineSplitter", "Wait"]
