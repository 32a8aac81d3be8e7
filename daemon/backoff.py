"""One exponential backoff for everything that waits after a failure.

HTTP retries, inbox files in ``retry_wait``, carrier polling after an error and channel pushes
all wait ``base * 2**(attempt-1)`` seconds, capped; before this module each wrote the formula
itself and one of them overflowed on a large attempt count. The exponent is bounded, so any
attempt number gives a finite delay.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

_MAX_EXPONENT = 60  # 2**60 seconds is far past any cap; keeps the float finite


@dataclass(frozen=True)
class Backoff:
    """``delay(n)`` before retry *n* (1 = the first retry): ``min(cap, base * 2**(n-1))``.

    ``jitter`` takes up to that share off each delay (0.5: between 50 % and 100 % of it), so
    clients that failed together do not retry together; ``rng`` makes it reproducible in tests.
    """

    base: float = 1.0
    cap: float = 900.0
    jitter: float = 0.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        exponent = min(max(0, int(attempt) - 1), _MAX_EXPONENT)
        delay = min(self.cap, self.base * (2 ** exponent))
        if self.jitter:
            delay *= 1 - self.jitter * (rng or random).random()
        return delay
