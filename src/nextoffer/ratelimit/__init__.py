"""Rate limits as pure arithmetic (GCRA) plus an in-process limiter; Redis shares them (store/)."""

from nextoffer.ratelimit.gcra import Check, Rate, Verdict, decide, merged, step
from nextoffer.ratelimit.memory_limiter import Limiter, MemoryLimiter

__all__ = ["Check", "Limiter", "MemoryLimiter", "Rate", "Verdict", "decide", "merged", "step"]
