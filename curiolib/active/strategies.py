"""How each active-learning strategy picks the next examples to label, from the model's probabilities.

- "random": uniform picks, the control every other strategy must beat;
- "least_confidence": the lowest top-class probability; "entropy": the most uncertain prediction;
- "explore_exploit": a share s (``diversity_share``) of each batch picked for diversity (farthest-first in the
  model's sentence embedding space, away from everything already labelled), the rest by entropy: s = 0 is
  "entropy", s = 1 pure diversity. Both halves ask for *new* labels, so in the growth model's terms both are
  exploration E: s is not the growth model's β (the share of new material against re-reading).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import entropy as _entropy

from .._validation import check_choice, check_int, check_number

STRATEGIES = ("random", "least_confidence", "entropy", "explore_exploit")



def least_confidence(probabilities: np.ndarray) -> np.ndarray:
    """1 − the top-class probability: largest for the examples nearest the decision boundary."""
    return 1.0 - np.asarray(probabilities).max(axis=1)



def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Predictive entropy −Σ p log p (nats): largest where the model spreads its belief most evenly.

    `scipy.stats.entropy` row by row, natural log, 0·log 0 taken as 0; it rescales a row that does not sum to 1.
    """
    return _entropy(np.asarray(probabilities, dtype=float), axis=1)



def farthest_first(candidates: np.ndarray, labelled: np.ndarray, k: int) -> np.ndarray:
    """Greedily pick k candidates, each the farthest (Euclidean) from the labelled set and the picks so far."""
    candidates = np.asarray(candidates, dtype=float)
    labelled = np.asarray(labelled, dtype=float).reshape(-1, candidates.shape[1])
    check_int("k", k, low=0, high=len(candidates))
    # With nothing labelled yet every distance is infinite, and argmax starts from the first candidate.
    distance = cdist(candidates, labelled).min(axis=1) if len(labelled) else np.full(len(candidates), np.inf)
    picks: list[int] = []
    for _ in range(k):
        best = int(np.argmax(distance))
        picks.append(best)
        distance = np.minimum(distance, cdist(candidates, candidates[best:best + 1])[:, 0])
        distance[picks] = -np.inf
    return np.array(picks, dtype=int)



def select(strategy: str, k: int, probabilities: np.ndarray, embeddings: np.ndarray | None = None,
           labelled_embeddings: np.ndarray | None = None, *, diversity_share: float = 0.5,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices (into the candidates) of the k examples ``strategy`` asks about next."""
    check_choice("strategy", strategy, STRATEGIES)
    n = len(probabilities)
    check_int("k", k, low=1, high=n)
    check_number("diversity_share", diversity_share, low=0, high=1)
    if strategy == "random":
        return (rng or np.random.default_rng(0)).choice(n, size=k, replace=False)
    if strategy == "least_confidence":
        return np.argsort(-least_confidence(probabilities), kind="stable")[:k]
    if strategy == "entropy":
        return np.argsort(-entropy(probabilities), kind="stable")[:k]
    if embeddings is None:
        raise ValueError("strategy 'explore_exploit' needs the candidates' embeddings")
    explore = int(round(diversity_share * k))
    labelled = np.empty((0, embeddings.shape[1])) if labelled_embeddings is None else labelled_embeddings
    explored = farthest_first(embeddings, labelled, explore) if explore else np.array([], dtype=int)
    rest = np.setdiff1d(np.arange(n), explored)
    exploited = rest[np.argsort(-entropy(probabilities[rest]), kind="stable")[: k - explore]]
    return np.concatenate([explored, exploited]).astype(int)
