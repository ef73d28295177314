"""nextoffer: a self-hostable offer decisioning engine speaking Adobe's Decision Management contract."""

__version__ = "0.1.0"
