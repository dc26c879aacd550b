"""Signal generators for the speech tests."""

from __future__ import annotations

import numpy as np


def tone(freq: float, seconds: float, rate: int = 16000, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def white_noise(seconds: float, dbfs: float, seed: int = 0, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (10 ** (dbfs / 20) * rng.standard_normal(int(seconds * rate))).astype(np.float32)
