"""nextoffer: self-hostable offer decisioning speaking Adobe's Decision Management contract."""

__version__ = "0.1.0"
