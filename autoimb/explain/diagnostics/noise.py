"""Label noise: rows whose out-of-fold probability contradicts their label.

By the per-class thresholds of confident learning [1]_: a positive is suspect
when the model, which never saw it, gives it no more than the *average*
probability of a negative; a negative when it gets at least the average
probability of a positive. The thresholds adapt to the base rate and need no
tuning constant. Label noise and overlapping classes cannot be told apart from
the data alone, but they leave different traces: random label errors put
positives among the rows the model is surest are negative, overlap rarely
does; both counts are given.

References
----------
.. [1] C. Northcutt, L. Jiang and I. Chuang, "Confident learning: estimating
   uncertainty in dataset labels", Journal of Artificial Intelligence
   Research 70, 1373-1411 (2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoimb.exceptions import AutoImbError

#: A tenth of the positives contradicted by the model: recall above 90% is then
#: out of reach at any useful precision, whatever the imbalance handling.
NOISE_SHARE = 0.10
#: Positives among the half of rows the model is surest are negative. Random
#: label errors land there as often as anywhere; overlapping classes seldom do.
LOW_HALF_SHARE = 0.05


@dataclass(frozen=True)
class LabelNoise:
    """Rows whose out-of-fold probability confidently contradicts their label.

    Attributes
    ----------
    method : str
        The rule, in words.
    positive_threshold, negative_threshold : float
        A positive is suspect at or below ``positive_threshold`` (the mean
        probability of the negatives); a negative at or above
        ``negative_threshold`` (the mean probability of the positives).
    n_positive, n_suspect_positives : int
    share_of_positives : float
        ``n_suspect_positives / n_positive``: an estimate of the share of
        positives that are mislabelled (or indistinguishable from negatives).
    positive_examples : tuple of int or str
        Up to ten suspect positives, most confidently contradicted first: their
        ids (values of the column ``id_name``) when the model knows them, else
        their positions.
    n_negative, n_suspect_negatives : int
    share_of_negatives : float
    negative_examples : tuple of int or str
    positives_in_low_half : int
        Positives among the half of rows with the lowest probability, where
        clean labels and informative features leave few.
    low_half_share : float
        ``positives_in_low_half / n_positive``.
    row_numbers : str
        Which rows the examples are among: ``"training rows"`` (positions from
        0 in the data given to ``fit``, without ids) or ``"scored rows"``
        (positions among the held-out rows of a holdout, on a loaded model
        without ids).
    id_name : str or None
        The id column the examples are values of (``autoimb fit --id``), or
        None when they are positions.
    """

    method: str
    positive_threshold: float
    negative_threshold: float
    n_positive: int
    n_suspect_positives: int
    share_of_positives: float
    positive_examples: tuple[int, ...]
    n_negative: int
    n_suspect_negatives: int
    share_of_negatives: float
    negative_examples: tuple[int, ...]
    positives_in_low_half: int
    low_half_share: float
    row_numbers: str
    id_name: str | None = None

    def examples_text(self, n: int | None = None) -> str:
        """The first ``n`` suspect positives in words: by id when known
        (``"row_id 5012, 77"``), else by position, saying so.

        Examples
        --------
        >>> y, p = np.array([0, 0, 0, 1, 1]), np.array([.1, .2, .1, .9, .1])
        >>> label_noise(y, p).examples_text()
        'training rows at positions 4 (counted from 0: no id column is known)'
        >>> label_noise(y, p, row_ids=list("abcde"), id_name="key").examples_text()
        'key e'
        """
        shown = ", ".join(map(str, self.positive_examples[:n]))
        if self.id_name is not None:
            return f"{self.id_name} {shown}"
        return (f"{self.row_numbers} at positions {shown} (counted from 0: no id "
                "column is known)")

    @property
    def likely(self) -> bool:
        """Whether the counts point at label noise rather than overlap."""
        return (self.share_of_positives >= NOISE_SHARE
                and self.low_half_share >= LOW_HALF_SHARE)


def label_noise(y, proba, *, row_ids=None, row_numbers: str = "training rows",
                id_name: str | None = None, n_examples: int = 10) -> LabelNoise:
    """Rows whose out-of-fold probability confidently contradicts their label.

    Confident learning's per-class thresholds (Northcutt et al., 2021): a
    positive is suspect when its probability is at most the mean probability
    of the negatives, a negative when its probability is at least the mean
    probability of the positives.

    Parameters
    ----------
    y : array of 0 and 1
    proba : array of float
        Out-of-fold probabilities of the positive class: each from a model that
        never saw its row, else every label looks right.
    row_ids : array, default=None
        The row number or id of each entry, for the examples; default their
        positions.
    row_numbers : str, default="training rows"
        Which rows the entries are, in words.
    id_name : str, default=None
        The column ``row_ids`` are values of, when they are ids.
    n_examples : int, default=10

    Returns
    -------
    LabelNoise

    Examples
    --------
    Two positives that look exactly like negatives:

    >>> import numpy as np
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> p = np.array([.01, .02, .03, .02, .01, .05, .02, .04, .9, .8, .02, .01])
    >>> noise = label_noise(y, p)
    >>> noise.n_suspect_positives, noise.positive_examples
    (2, (11, 10))
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    ids = np.arange(len(y)) if row_ids is None else np.asarray(row_ids)
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        raise AutoImbError(
            "label_noise needs rows of both classes; got "
            f"{int(pos.sum())} positive and {int(neg.sum())} negative rows.")
    low_cut = float(proba[neg].mean())
    high_cut = float(proba[pos].mean())
    suspect_pos = np.flatnonzero(pos & (proba <= low_cut))
    suspect_neg = np.flatnonzero(neg & (proba >= high_cut))
    suspect_pos = suspect_pos[np.argsort(proba[suspect_pos], kind="mergesort")]
    suspect_neg = suspect_neg[np.argsort(-proba[suspect_neg], kind="mergesort")]
    order = np.argsort(proba, kind="mergesort")
    low_half = order[: len(y) // 2]
    in_low_half = int(np.sum(y[low_half]))
    return LabelNoise(
        method="confident learning: a positive is suspect when its out-of-fold "
               "probability is at most the mean probability of the negatives, a "
               "negative when at least the mean probability of the positives",
        positive_threshold=low_cut, negative_threshold=high_cut,
        n_positive=int(pos.sum()), n_suspect_positives=len(suspect_pos),
        share_of_positives=len(suspect_pos) / int(pos.sum()),
        positive_examples=tuple(_plain(i) for i in ids[suspect_pos[:n_examples]]),
        n_negative=int(neg.sum()), n_suspect_negatives=len(suspect_neg),
        share_of_negatives=len(suspect_neg) / int(neg.sum()),
        negative_examples=tuple(_plain(i) for i in ids[suspect_neg[:n_examples]]),
        positives_in_low_half=in_low_half,
        low_half_share=in_low_half / int(pos.sum()),
        row_numbers=row_numbers, id_name=id_name)


def _plain(value):
    """A row number or id as a plain Python value (an int for whole numbers)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
