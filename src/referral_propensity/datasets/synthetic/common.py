"""Time units, timestamp conversion and random draws shared by the shop modules."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_S = 86_400
HOUR_S = 3_600


def to_utc(origin_ns: int, seconds: np.ndarray | pd.Series) -> pd.Series:
    """Turn whole seconds since the start of the period into UTC timestamps.

    Parameters
    ----------
    origin_ns : int
        Midnight UTC of the first day of the period, in nanoseconds since the epoch.
    seconds : numpy.ndarray or pandas.Series
        Whole seconds since that midnight.

    Returns
    -------
    pandas.Series
        Timestamps of dtype ``datetime64[ns, UTC]``, with a fresh range index.
    """
    ns = origin_ns + np.asarray(seconds, dtype=np.int64) * 10**9
    return pd.Series(pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC"))


def truncated_exponential(
    rng: np.random.Generator, *, scale: float, upper: np.ndarray
) -> np.ndarray:
    """Draw whole seconds from an exponential distribution cut off at ``upper``.

    Parameters
    ----------
    rng : numpy.random.Generator
    scale : float
        Mean of the exponential before the cut, in seconds.
    upper : numpy.ndarray
        Largest allowed draw per row, in seconds.

    Returns
    -------
    numpy.ndarray
        One int64 draw per row of ``upper``, in ``[0, upper]``.
    """
    u = rng.random(upper.size)
    delay = -scale * np.log1p(-u * (1.0 - np.exp(-upper / scale)))
    return np.minimum(np.floor(delay).astype(np.int64), upper)


def choose_per_row(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """Draw one column index per row of a matrix of shares that sum to 1.

    Parameters
    ----------
    rng : numpy.random.Generator
    shares : numpy.ndarray
        Shape ``(n, k)``; each row sums to 1.

    Returns
    -------
    numpy.ndarray
        ``n`` integers in ``[0, k)``.
    """
    cumulative = np.cumsum(shares, axis=1)
    u = rng.random(len(shares))[:, None]
    return np.minimum((u >= cumulative).sum(axis=1), shares.shape[1] - 1)


def draw_share(
    rng: np.random.Generator, mean: np.ndarray, *, concentration: float
) -> np.ndarray:
    """Draw one value in ``[0, 1]`` per row from a beta distribution with a given mean.

    Parameters
    ----------
    rng : numpy.random.Generator
    mean : numpy.ndarray
        Mean of each draw, strictly between 0 and 1.
    concentration : float
        Sum of the two beta parameters; larger values keep draws nearer the mean
        (the standard deviation is ``sqrt(mean * (1 - mean) / (concentration + 1))``).

    Returns
    -------
    numpy.ndarray
        Draws rounded to 2 decimals.
    """
    draws = rng.beta(mean * concentration, (1.0 - mean) * concentration)
    return np.round(draws, 2)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, ``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + np.exp(-x))
