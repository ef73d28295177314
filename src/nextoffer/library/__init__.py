"""The Offer Library: entity schemas, references, lifecycles, integrity rules and service."""
