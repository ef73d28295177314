"""Profiles (pure): the model a decision reads, and the documents clients write.

The store (`nextoffer.store.profiles`) persists them; the engine sees a `Profile` through its
`Subject` protocol (attributes, audience memberships, recent experience events).
"""

from nextoffer.profiles.documents import ProfileData, parse_profile, read_model
from nextoffer.profiles.model import Profile

__all__ = ["Profile", "ProfileData", "parse_profile", "read_model"]
