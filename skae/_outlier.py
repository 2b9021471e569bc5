"""Anomaly detection by reconstruction error, in scikit-learn's outlier-detector API.

:class:`AutoencoderOutlierDetector` is the plain network of the family
(:class:`~skae._estimator._DenseAutoencoder`) fitted by the shared fit flow; it
adds the threshold (``offset_``), the decision and the robust training, which is
a monitor of the loop (:class:`_Trimming`) that changes the batch source's
per-row weights between epochs.
"""

import copy
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._callbacks import CallbackSupportMixin, fit_task
from ._data import gather_rows, row_keys
from ._estimator import (
    AutoencoderTransformer,
    _DenseAutoencoder,
    _range_warned_by_fit,
    _row_errors,
)

#: Tukey's fence, on the logarithm of the reconstruction errors, for ``contamination="auto"``.
_FENCE = 1.5

#: The fence is at least this much (relatively) above the upper quartile of the errors.
_FENCE_SLACK = 1e-5

#: The quantile rule's threshold is this much (relatively) below the lowest training
#: scores when they tie at the quantile: a row's score varies with its batch, in float32
#: by more than its last digits where the row is reconstructed almost exactly.
_TIE_MARGIN = 1e-3

#: Relative tolerance for a quantile's target falling on a boundary of the cumulative weights.
_BOUNDARY_RTOL = 1e-10


def weighted_quantile(values, q, weights=None):
    """The ``q``-quantile of ``values`` by the averaged inverted CDF, with weights.

    The smallest value ``v`` whose cumulative weight reaches ``q`` times the total;
    where it reaches it exactly, the mean of ``v`` and the next value up (numpy's
    ``method="averaged_inverted_cdf"``). A weight of ``k`` counts as ``k``
    repeated values, scaling all weights changes nothing, and zero-weight values
    are ignored. With ``n`` equal weights and ``q·n`` an integer ``k``, exactly
    ``k`` values lie strictly below the quantile (barring ties).

    Parameters
    ----------
    values : ndarray of shape (n,)
    q : float in [0, 1]
    weights : ndarray of shape (n,) or None
        Non-negative, with a positive sum; None means all ones.

    Returns
    -------
    quantile : float
    """
    order = np.argsort(values, kind="stable")
    v = np.asarray(values, dtype=np.float64)[order]
    if weights is None:
        cumulative = np.arange(1, v.size + 1, dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)[order]
        positive = w > 0
        v, cumulative = v[positive], np.cumsum(w[positive])
    target = q * cumulative[-1]
    i = int(np.searchsorted(cumulative, target * (1 - _BOUNDARY_RTOL), side="left"))
    i = min(i, v.size - 1)
    if i + 1 < v.size and cumulative[i] <= target * (1 + _BOUNDARY_RTOL):
        return float((v[i] + v[i + 1]) / 2)
    return float(v[i])


def fence_offset(scores, weights=None):
    """Tukey's fence on the log errors, as a threshold on ``scores = -errors``.

    ``-exp(Q3 + 1.5 (Q3 - Q1))`` with ``Q1``, ``Q3`` the weighted quartiles of
    ``log(errors)`` (errors floored at the smallest positive float), and at
    least ``1 + 1e-5`` times the errors' upper quartile, and finite. When a
    quarter of the errors (by weight) or more are not positive (errors of 0, or
    the negative binary cross-entropy of data off [0, 1]), which leaves no
    logarithm at the lower quartile (at exactly a quarter, the quartile averages
    such an error with a positive one), the fence is on the errors themselves.
    """
    raw = -np.asarray(scores, dtype=np.float64)
    raw_q1 = weighted_quantile(raw, 0.25, weights)
    errors = np.maximum(raw, np.finfo(np.float64).tiny)
    w = np.ones(raw.size) if weights is None else np.asarray(weights, dtype=np.float64)
    not_positive = float(w[raw <= 0].sum())
    if not_positive >= 0.25 * float(w.sum()) * (1 - _BOUNDARY_RTOL):
        # Errors of 0, or negative ones (binary cross-entropy off [0, 1]), at the
        # lower quartile: no logarithm there, Tukey's fence on the errors themselves,
        # never at or below their upper quartile (negative ones included).
        raw_q3 = weighted_quantile(raw, 0.75, weights)
        with np.errstate(over="ignore"):
            fence = max(
                float(raw_q3 + _FENCE * (raw_q3 - raw_q1)),
                float(raw_q3 + _FENCE_SLACK * abs(raw_q3)),
            )
    else:
        log_errors = np.log(errors)
        q1 = weighted_quantile(log_errors, 0.25, weights)
        q3 = weighted_quantile(log_errors, 0.75, weights)
        with np.errstate(over="ignore"):
            fence = float(np.exp(q3 + _FENCE * (q3 - q1)))
        # Never at or below the errors' upper quartile: with tied quartiles (duplicated
        # rows) exp(log(e)) can round below e, and a row's error varies in its last
        # digits with the batch it is scored in (float32's included).
        upper = float(weighted_quantile(errors, 0.75, weights))
        fence = max(fence, upper * (1 + _FENCE_SLACK))
    # Finite: beyond float64 no finite error is above it, and an overflowing one
    # (score -inf) stays below it.
    return -min(fence, np.finfo(np.float64).max)


def quantile_offset(scores, q, weights=None):
    """The ``q``-quantile rule as a threshold that no training score lies on.

    Halfway between the highest score below the weighted ``q``-quantile
    (:func:`weighted_quantile`) and the lowest at or above it: the same
    training rows lie below it, and a row's score, which varies in its last
    digits with the batch it is scored in, keeps its side. When no finite
    counted score lies below the quantile (it falls on the lowest finite
    scores, tied), just below them (relatively ``_TIE_MARGIN``): the tied rows
    are inliers in any batch their score varies in by less. The quantile
    itself when it is ``-inf``, or when that margin would overflow.
    """
    scores = np.asarray(scores, dtype=np.float64)
    quantile = weighted_quantile(scores, q, weights)
    counted = scores if weights is None else scores[np.asarray(weights) > 0]
    below, above = counted[counted < quantile], counted[counted >= quantile]
    if below.size and below.max() > -np.inf:
        return float(below.max() / 2 + above.min() / 2)
    lowest = float(above.min())
    if lowest == -np.inf:
        return quantile
    below_lowest = lowest - _TIE_MARGIN * max(abs(lowest), np.finfo(np.float64).tiny)
    return below_lowest if below_lowest > -np.inf else quantile  # at float64's edge


#: Rows read by :func:`_one_row_carries` before it hashes them all.
_MAJORITY_PROBE = 64


def _one_row_carries(X, rows, sample_weight, share, chunk=4096):
    """Whether copies of one row carry at least ``share`` (> 1/2) of ``rows``' weight.

    Rows are compared by their values (missing entries equal where both are NaN).
    :data:`_MAJORITY_PROBE` rows drawn at fixed positions (a generator of its own,
    so that no pattern of the data's order lines up with them) are read first:
    unless one row carries most of their weight, the answer is no, and the
    others are not read (with equal weights, copies carrying 90 % of them, as
    the default ``trim_fraction`` asks, are then missed with a probability of
    about 1e-15; a miss leaves the tolerance relative, as it was). Otherwise
    every row is hashed (:func:`~skae._data.row_keys`), and the copies of the
    heaviest key are compared with its first, value by value.
    """
    weights = np.ones(rows.size) if sample_weight is None else sample_weight[rows]
    rows, weights = rows[weights > 0], weights[weights > 0]
    n, d = rows.size, X.shape[1]
    if n == 0:
        return False
    if n > _MAJORITY_PROBE:
        drawn = np.sort(np.random.default_rng(0).choice(n, _MAJORITY_PROBE, replace=False))
        probe, probe_weights = rows[drawn], weights[drawn]
    else:
        probe, probe_weights = rows, weights
    _, inverse = np.unique(
        row_keys(gather_rows(X, probe, np.empty((probe.size, d), X.dtype)), 0),
        return_inverse=True,
    )
    if np.bincount(inverse, weights=probe_weights).max() * 2 <= probe_weights.sum():
        return False
    keys = np.concatenate([
        row_keys(gather_rows(X, part, np.empty((part.size, d), X.dtype)), 0)
        for part in np.array_split(rows, max(1, -(-n // chunk)))
    ])
    unique, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=weights, minlength=unique.size)
    top = int(np.argmax(totals))
    if totals[top] < share * weights.sum():
        return False
    copies = rows[inverse == top]
    first = gather_rows(X, copies[:1], np.empty((1, d), X.dtype))
    for part in np.array_split(copies, max(1, -(-copies.size // chunk))):
        block = gather_rows(X, part, np.empty((part.size, d), X.dtype))
        if not np.all((block == first) | (np.isnan(block) & np.isnan(first))):
            return False
    return True


class _Trimming:
    """Monitor of robust training: rows reconstructed far worse than most weigh little.

    Every epoch after the first ``warmup`` epochs of training (counted over
    ``warm_start`` fits: epoch numbers go on from ``n_iter_``) begins by
    scoring the training rows with the current network: a row whose error
    ``e`` lies beyond both Tukey's fence (:func:`fence_offset`) and the
    weighted ``(1 - fraction)``-quantile of the training rows' errors, the
    larger ``τ``, weighs ``(τ / e)²`` times its sample weight for that epoch
    (the others keep theirs; a row whose error overflows, 0; with ``τ ≤ 0``,
    errors of 0 at the fence or of the cross-entropy off [0, 1], the rows
    beyond it 0): the weights of
    iteratively reweighted least squares for the loss ``e`` up to ``τ`` and
    ``2τ - τ² / e`` beyond, bounded by ``2τ``, so that a row far out pulls the
    model little, however far, while one just beyond the fence still trains.

    Parameters
    ----------
    fraction : float
        The most of the training weight to down-weight, in (0, 0.5).
    context : SimpleNamespace
        The fit's context (see ``_BaseAutoencoder._training_monitors``).
    warmup : int
        Epochs of plain training before the first down-weighting.
    """

    def __init__(self, fraction, context, warmup):
        self.fraction = fraction
        self.context = context
        self.warmup = warmup
        self.buffers = {}
        rows, sample_weight = context.train_rows, context.sample_weight
        n_samples = context.X.shape[0]
        self.base = (
            np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, float)
        )
        self.row_weights = self.base[rows]

    def __call__(self, epoch, loss, validation_loss, seconds):
        return False

    def begin_epoch(self, epoch):
        if epoch <= self.warmup:
            return
        ctx = self.context
        scores = -_row_errors(ctx.objective, ctx.X, ctx.train_rows, self.buffers)
        weights = self.row_weights
        finite = np.isfinite(scores)
        if not (finite & (weights > 0)).any():
            return  # no fence to draw: the epoch's loss reports the divergence
        # Rows whose errors overflow are dropped; the fence is drawn without them.
        values, kept = (scores, weights) if finite.all() else (scores[finite], weights[finite])
        threshold = min(
            fence_offset(values, kept), weighted_quantile(values, self.fraction, kept)
        )
        # Scores are minus the errors: (τ / e)² is (threshold / score)², below 1 beyond
        # τ > 0. A threshold that is not positive (errors of 0 at the fence, or the
        # cross-entropy of data off [0, 1]) bounds no loss that way: the rows beyond
        # it are left out, the limit of (τ / e)² as τ falls to 0.
        beyond = scores < threshold
        if threshold < 0:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                factor = np.where(beyond, (threshold / scores) ** 2, 1.0)
        else:
            factor = np.where(beyond, 0.0, 1.0)
        factor[~finite] = 0.0  # the rows whose errors overflow
        weights = self.base.copy()
        weights[ctx.train_rows] *= factor
        ctx.source.set_weights(weights)


class AutoencoderOutlierDetector(CallbackSupportMixin, OutlierMixin, _DenseAutoencoder):
    """Unsupervised outlier detection by an autoencoder's reconstruction error.

    An autoencoder (encoder, linear bottleneck of ``n_components``, decoder:
    the network of :class:`AutoencoderTransformer`, with the same parameters) is
    trained to reconstruct the training data. Samples it reconstructs badly are
    unlike the data it learnt: :meth:`score_samples` is minus the per-sample
    reconstruction error (higher is more normal) and :meth:`decision_function`
    shifts it by the threshold ``offset_``, so that negative values flag
    outliers, as for :class:`~sklearn.ensemble.IsolationForest`. Scale the
    inputs first (e.g. with :class:`~sklearn.preprocessing.StandardScaler`).

    Training is robust to anomalies scattered in the training data: epoch by
    epoch, it down-weights the rows that the current model reconstructs far
    worse than the others (at most ``trim_fraction`` of them), so that they
    are hardly learnt (see Notes); a tight cluster of anomalies is learnt as
    part of the data.
    :meth:`score_samples_per_feature` says which features make a row anomalous.

    The network and training parameters mean what they mean for
    :class:`AutoencoderTransformer` (except the plateau rule, see ``tol``),
    whose documentation has the details.

    Parameters
    ----------
    n_components : int, default=4
        Width of the code layer (the bottleneck). Smaller codes reconstruct
        less of what is unusual; larger ones than
        :class:`AutoencoderTransformer`'s default 2 reconstruct real data
        better (the benchmark of :ref:`anomaly-benchmark` chose 4).

    contamination : "auto" or float, default="auto"
        Expected share of outliers in the training data; sets the threshold
        ``offset_`` (not the scores). A float in (0, 0.5]: the
        ``contamination`` quantile of the training scores, so that that share
        of the training data is predicted an outlier. ``"auto"``: Tukey's
        fence on the logarithm of the training reconstruction errors (see
        Notes).

    trim_fraction : float, default=0.1
        Robust training: after a warm-up of 10 epochs (of ``n_iter_``, so
        counted over ``warm_start`` fits), the training rows whose
        reconstruction error ``e`` under the current model lies beyond a
        threshold ``τ``, Tukey's fence or the errors' ``(1 - trim_fraction)``
        quantile (sample-weighted), whichever is larger, weigh ``(τ / e)²`` in
        the next epoch: at most this share of the training rows, the worst
        ones, down-weighted the more the farther out (a bounded loss,
        recomputed after every epoch; see Notes). 0 trains on every row as
        :class:`AutoencoderTransformer` does. Must be below 0.5. Costs one more
        forward pass over the training rows per epoch.

    hidden_layer_sizes : array-like of int or int, default=(128, 64)
        Widths of the encoder's hidden layers, from the input towards the code.

    decoder_layer_sizes : array-like of int, int or None, default=None
        Widths of the decoder's hidden layers; None mirrors the encoder.

    activation : {"relu", "leaky_relu", "elu", "softplus", "tanh", "logistic", \
"identity"}, default="relu"
        Activation of the hidden layers; code and output layers are linear.

    loss : {"squared_error", "binary_crossentropy"}, default="squared_error"
        Reconstruction loss, hence the per-sample error of the score. The
        binary cross-entropy is for data in [0, 1]: outside, it is unbounded
        below, so a row far out of range can score as the most normal one.
        Every method warns on such data; scale new data as the training data
        (e.g. ``MinMaxScaler(clip=True)`` in a Pipeline) or use "squared_error".

    alpha : float or "auto", default="auto"
        L2 penalty: ``alpha / 2`` times the squared norm of the weight matrices;
        ``"auto"`` is ``0.64 / n_samples`` (the training rows' count or weight),
        with ``loss="binary_crossentropy"`` times that loss's value when every
        feature is reconstructed as its mean, above the targets' entropy (see
        :class:`AutoencoderTransformer`).

    noise : {"gaussian", "masking", "salt_and_pepper"} or None, default=None
        Corrupt the training inputs (a denoising autoencoder); scores never are.

    noise_level : float, default=0.1
        Standard deviation or fraction of corrupted entries of ``noise``.

    sparsity : float, default=0.0
        Weight of the L1 penalty on the codes.

    contraction : float, default=0.0
        Weight of the contractive penalty on the encoder's Jacobian.

    tied_weights : bool, default=False
        Decoder weights are the transposed encoder weights.

    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``n_train // 32`` clipped to [32, 128],
        ``n_train`` the rows trained on (held-out and zero-weight rows excluded).

    learning_rate : {"constant", "adaptive", "cosine"}, default="adaptive"
        Learning-rate schedule: ``"adaptive"`` divides the rate by 5 at each
        plateau of the loss and stops below ``learning_rate_init / 1000``.

    learning_rate_init : float, default=2e-3
        Adam's (initial) step size.

    max_iter : int, default=2000
        Maximum number of epochs. The stopping rule usually ends the fit well
        before (on the bundled tables, standardized, after roughly 200 to 800
        epochs), but a table of fewer than 64 training rows is one or two
        minibatches an epoch, hence as few Adam steps, and takes longer
        (Linnerud's 20 rows: 916 to 1,241 epochs over seeds 0–9).

    shuffle : bool, default=True
        Whether to shuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling, validation split and noise.

    tol : float, default=1e-3
        Relative improvement of the monitored loss that counts: a plateau is
        ``n_iter_no_change`` consecutive epochs whose loss does not improve on
        the best by ``tol`` times its magnitude (with
        ``loss="binary_crossentropy"`` and ``early_stopping``, its magnitude
        above the held-out targets' mean binary entropy, as for
        :class:`AutoencoderTransformer`; trimming reweights the training loss,
        which counts whole; where every column of ``X`` is constant, or, with
        ``trim_fraction``, where copies of one row carry at least
        ``1 - trim_fraction`` of the weight (a flat reading with a few spikes:
        trimming then trains on the copies), ``tol`` itself, as for
        :class:`AutoencoderTransformer`). Unlike it, each
        epoch's loss is judged on its own (not averaged over
        ``n_iter_no_change`` epochs), and with rows held out no extra patience
        ends training: the schedule does.

    verbose : bool, default=False
        Print one line per epoch.

    warm_start : bool, default=False
        Continue from the previous weights and optimizer state (the optimizer
        state of the last epoch, also where early stopping restored an earlier
        epoch's weights).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        reconstruction error stops improving, restoring the best weights.

    validation_fraction : float, default=0.1
        Share of the data held out with ``early_stopping``.

    beta_1 : float, default=0.9
        Adam's first-moment decay rate.

    beta_2 : float, default=0.999
        Adam's second-moment decay rate.

    epsilon : float, default=1e-8
        Adam's numerical-stability term.

    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` that make a plateau.

    Attributes
    ----------
    offset_ : float
        The threshold: ``decision_function = score_samples - offset_`` (``-inf``
        where the score is ``-inf``).

    coefs_ : list of ndarray
        Weight matrices, encoder layers then decoder layers.

    intercepts_ : list of ndarray
        Bias vectors, in the same order.

    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of training samples seen; rows of zero sample weight are not seen.

    loss_ : float
        Training objective of the last epoch (under the weights of robust
        training, with ``trim_fraction > 0``).

    loss_curve_ : list of float
        Training objective of every epoch.

    best_loss_ : float
        Smallest entry of ``loss_curve_``.

    validation_loss_curve_ : list of float or None
        Validation reconstruction loss after every epoch, with ``early_stopping``.

    best_validation_loss_ : float or None
        Validation loss of the kept weights, with ``early_stopping``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when they are all strings.

    See Also
    --------
    AutoencoderTransformer : The same network as a transformer.
    sklearn.ensemble.IsolationForest : Outlier detection by random partitions.
    sklearn.neighbors.LocalOutlierFactor : Outlier detection by local density.
    sklearn.svm.OneClassSVM : Outlier detection by a kernel boundary.

    Notes
    -----
    The score of a sample is minus its reconstruction error ``e``: the mean over
    features of the squared error (or of the binary cross-entropy) between the
    sample and its reconstruction, with no noise applied. Scores are
    deterministic.

    The threshold ``offset_`` is set on the training data ``X`` (all of it,
    validation rows included), weighted by ``sample_weight``. For a float
    ``contamination`` ``c`` it is the ``c``-quantile of the training scores
    (the averaged inverted CDF), so a share ``c`` of the training weight is
    predicted an outlier (exactly when ``c · n_samples`` is a whole number and
    scores do not tie, else the whole number of rows below it: scikit-learn's
    :class:`~sklearn.ensemble.IsolationForest` interpolates its percentile
    linearly, which usually flags the whole number above, e.g. 1 of 10 rows at
    ``c = 0.05`` where this flags none), moved
    halfway down to the next lower training score when it falls on one, or
    just below it (relatively 1e-3) when none is lower (tied lowest scores,
    e.g. duplicated rows, are then all inliers): no training row sits on the
    threshold, where the last digits of its score, which depend on the batch it
    is scored in, would decide its label. For
    ``"auto"`` it is Tukey's fence on the log errors, ``Q1`` and ``Q3`` being
    the quartiles of ``log e`` over the training rows::

        offset_ = -exp(Q3 + 1.5 · (Q3 - Q1))

    so that a sample is an outlier when its error lies far in the right tail of
    the training errors; how many training rows that is depends on the data.
    The fence never falls below ``1 + 1e-5`` times the upper quartile of the
    errors, so that tied training errors (duplicated rows) stay inliers. When a
    quarter of the errors or more are not positive (the negative binary
    cross-entropy of data outside [0, 1]), it is Tukey's fence on the errors
    themselves, ``Q3 + 1.5 · (Q3 - Q1)``.

    Robust training (``trim_fraction = f > 0``): training starts as for the
    transformer. After each epoch ``t ≥ 10``, the training rows' errors ``e_i``
    under the current weights give the threshold ``τ_t``, the larger of Tukey's
    fence ``exp(Q3 + 1.5 · (Q3 - Q1))`` on their log errors (as above) and their weighted
    ``(1 - f)``-quantile (averaged inverted CDF), and the next epoch minimises
    the reweighted loss::

        Σ_i w_i v_i e_i / Σ_i w_i v_i   (plus the penalties),
        v_i = 1 if e_i ≤ τ_t, else (τ_t / e_i)²

    where ``w_i`` are the sample weights (1 without): iteratively reweighted
    least squares for the loss ``e`` up to ``τ`` and ``2τ - τ² / e`` beyond,
    bounded by ``2τ``, so that a row far out pulls the model little, however
    far. Only rows in the tail of the errors are down-weighted (few on clean
    data), at most a share ``f`` of the training weight, and a row just beyond
    the threshold still trains, at nearly its weight, and comes back when the
    model reconstructs it well enough [4]_. Rows whose errors overflow weigh 0,
    and so do the rows beyond a threshold that is not positive (most errors 0,
    or the binary cross-entropy of data off [0, 1], which can be negative),
    where no such bound holds. The validation
    rows of ``early_stopping`` are never down-weighted. ``offset_`` is set
    from the final model, on all rows.

    References
    ----------
    .. [1] P. J. Rousseeuw, "Least median of squares regression", Journal of
       the American Statistical Association 79 (388), 871-880, 1984 (trimmed
       losses).
    .. [2] C. Zhou and R. C. Paffenroth, "Anomaly detection with robust deep
       autoencoders", KDD 2017.
    .. [3] J. W. Tukey, "Exploratory Data Analysis", Addison-Wesley, 1977
       (the fence).
    .. [4] P. W. Holland and R. E. Welsch, "Robust regression using iteratively
       reweighted least-squares", Communications in Statistics - Theory and
       Methods 6 (9), 813-827, 1977.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderOutlierDetector
    >>> X, y = load_digits(return_X_y=True)
    >>> detector = make_pipeline(
    ...     StandardScaler(),
    ...     AutoencoderOutlierDetector(contamination=0.05, max_iter=20, random_state=0),
    ... ).fit(X[y != 0])
    >>> labels = detector.predict(X)
    >>> round(float(np.mean(labels[y != 0] == -1)), 3)  # the contamination, in training
    0.049
    >>> from sklearn.metrics import roc_auc_score
    >>> bool(roc_auc_score(y == 0, -detector.score_samples(X)) > 0.85)  # zeros, never seen
    True
    """

    _parameter_constraints: dict = {
        **{
            key: value
            for key, value in AutoencoderTransformer._parameter_constraints.items()
            if key not in ("n_init", "init", "categorical_groups", "mask_as_input")
        },
        "early_stopping": ["boolean"],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "trim_fraction": [Interval(Real, 0, 0.5, closed="left")],
    }

    #: Epochs of plain training before robust training starts trimming.
    _warmup = 10

    def __init__(
        self,
        n_components=4,
        *,
        contamination="auto",
        trim_fraction=0.1,
        hidden_layer_sizes=(128, 64),
        decoder_layer_sizes=None,
        activation="relu",
        loss="squared_error",
        alpha="auto",
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        contraction=0.0,
        tied_weights=False,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=2e-3,
        max_iter=2000,
        shuffle=True,
        random_state=None,
        tol=1e-3,
        verbose=False,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
    ):
        self.n_components = n_components
        self.contamination = contamination
        self.trim_fraction = trim_fraction
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.loss = loss
        self.alpha = alpha
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contraction = contraction
        self.tied_weights = tied_weights
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # -- the threshold and the robust training ----------------------------------------------
    def _offset(self, scores, weights=None):
        """The threshold rule of ``contamination`` on training ``scores`` (see Notes)."""
        if self.contamination == "auto":
            return fence_offset(scores, weights)
        return quantile_offset(scores, self.contamination, weights)

    def _plateau_floor(self, floor, validated):
        # Trimming reweights the training loss every epoch, so the training rows'
        # floor is not that loss's: only the held-out rows' (never trimmed) counts.
        return floor() if validated else 0.0

    def _without_spread(self, X, rows, sample_weight, missing):
        # Trimming trains on the rows it does not down-weight: where one row (repeated)
        # carries all but trim_fraction of the weight, the fence and the quantile both
        # fall within its copies, whose loss a network follows down to 0 for ever.
        return super()._without_spread(X, rows, sample_weight, missing) or (
            self.trim_fraction > 0
            and _one_row_carries(X, rows, sample_weight, 1 - self.trim_fraction)
        )

    def _training_monitors(self, context):
        if not self.trim_fraction:
            return []
        return [_Trimming(self.trim_fraction, context, self._warmup)]

    def _fitted_extras(self, attributes, X, sample_weight):
        # The threshold: the rule of contamination on the model's own training scores.
        model = copy.copy(self)
        vars(model).update(attributes)
        return {"offset_": model._offset(-model._sample_errors(X), sample_weight)}

    # -- the public API ---------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def fit(self, X, y=None, sample_weight=None):
        """Fit the autoencoder to ``X`` and set the threshold ``offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, possibly with outliers in it.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the reconstruction loss and
            in the threshold's quantiles. A weight of k counts as k rows: the
            penalty of ``alpha="auto"`` is over the training rows' total weight,
            so weights that sum to 1 make it ``n_samples`` times that of unit
            weights (on a 2-D manifold in 20-D the ROC AUC fell from 0.88 to
            0.22). Weights averaging below 0.1 there warn; rescale them to
            average 1, or set ``alpha``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, sample_weight, incremental=False)

    def fit_predict(self, X, y=None, **kwargs):
        """Fit the detector to ``X`` and label its samples.

        The same as ``fit(X, **kwargs).predict(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, possibly with outliers in it.

        y : Ignored
            Not used, present for API consistency by convention.

        **kwargs : dict
            Passed to :meth:`fit` (``sample_weight``).

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            -1 for the outliers among the training samples, +1 for the inliers.
        """
        self.fit(X, y, **kwargs)
        with _range_warned_by_fit():
            return self.predict(X)

    def score_samples(self, X):
        """Minus the reconstruction error of each sample; lower is more abnormal.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over features of the squared error (or binary
            cross-entropy) between each sample and its reconstruction, the
            sum of the rows of :meth:`score_samples_per_feature`. A sample
            whose reconstruction overflows (finite but huge values) scores
            ``-inf``: an outlier.
        """
        return -self._sample_errors(self._validate_input(X))

    def decision_function(self, X):
        """Shifted score: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``; ``-inf`` where the score is
            ``-inf`` (a reconstruction that overflows: an outlier, whatever
            the threshold).
        """
        scores = self.score_samples(X)
        with np.errstate(invalid="ignore"):  # -inf - (-inf): the threshold's own -inf
            decision = scores - self.offset_
        decision[scores == -np.inf] = -np.inf
        return decision

    def predict(self, X):
        """Whether each sample is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to classify.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            -1 where :meth:`decision_function` is negative, +1 elsewhere.
        """
        decision = self.decision_function(X)
        return np.where(decision < 0, -1, 1)

    def score_samples_per_feature(self, X):
        """Each feature's part of :meth:`score_samples`: which features are anomalous.

        Entry ``(i, j)`` is minus feature ``j``'s term of sample ``i``'s
        reconstruction error, ``-(x̂_ij - x_ij)² / n_features`` for the squared
        error, so each row sums to the sample's score; the most negative
        entries are the features reconstructed worst.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score. A pandas data frame gives a data frame with its
            index and columns; a polars one, a polars frame with its columns.

        Returns
        -------
        contributions : ndarray, pandas or polars DataFrame of shape (n_samples, n_features)
            Per-feature scores, float64: ``-inf`` where a reconstruction
            overflowed, as in :meth:`score_samples`.
        """
        library = type(X).__module__.partition(".")[0]
        frame = X if library in ("pandas", "polars") and hasattr(X, "columns") else None
        X = self._validate_input(X)
        objective = self._objective()
        out = np.empty(X.shape, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow scores -inf, below
            for rows in self._chunks(X.shape[0]):
                chunk = X[rows]
                chunk = chunk.toarray() if sp.issparse(chunk) else chunk
                np.negative(objective.feature_errors(chunk), out=out[rows])
        out[~np.isfinite(out)] = -np.inf  # as in score_samples: X is finite, this overflowed
        if frame is not None and library == "polars":
            import polars as pl

            return pl.DataFrame(out, schema=list(frame.columns), orient="row")
        if frame is not None:
            import pandas as pd

            return pd.DataFrame(out, index=frame.index, columns=frame.columns)
        return out
