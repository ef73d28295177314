"""Self-learning ranking (pure): strategy settings, the auto-optimization model (Thompson
sampling over Beta posteriors), its training from counts, and logged propensities."""

from nextoffer.ranking.auto_model import Arm, AutoModel, train_auto
from nextoffer.ranking.settings import StrategySettings
from nextoffer.ranking.thompson import ThompsonScorer

__all__ = ["Arm", "AutoModel", "StrategySettings", "ThompsonScorer", "train_auto"]
