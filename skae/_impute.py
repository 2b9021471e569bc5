"""AutoencoderImputer: missing values filled in from a masked autoencoder's reconstruction."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn import config_context
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils._param_validation import Interval, MissingValues, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_array, check_is_fitted

from ._activations import ACTIVATIONS
from ._callbacks import CallbackSupportMixin, fit_task
from ._data import NOISES, MissingEntries
from ._estimator import (
    AutoencoderTransformer,
    _DenseAutoencoder,
    _outside_stacklevel,
    _refuse_overflow,
)
from ._objectives import one_hot_argmax

#: Standardized entries beyond this many of the first fit's scales from its means: a
#: warm start's data far from the first fit's (said when such a fit diverges).
_FAR_FROM_FIRST_FIT = 100.0


class AutoencoderImputer(CallbackSupportMixin, TransformerMixin, _DenseAutoencoder):
    """Impute missing values with an autoencoder trained on the observed entries.

    The network reconstructs every row from its observed entries: missing
    inputs enter as 0 (the feature's mean, since the imputer standardizes
    internally), the mask of observed entries is appended to the inputs
    (``mask_as_input``), and the training loss counts the observed entries
    only, so the holes never act as targets. :meth:`transform` returns ``X``
    with every missing entry replaced by its reconstruction and every observed
    entry exactly as given (but for a categorical group missing as a whole, no
    entry an observed 1, rewritten to a one-hot row). Like
    :class:`~sklearn.impute.IterativeImputer` it models each feature from all
    the others, but with one network for all features, trained once.

    Parameters
    ----------
    missing_values : int, float, np.nan or pd.NA, default=np.nan
        The placeholder of a missing entry. With a number other than NaN,
        entries equal to it are missing and NaN is refused. ``pd.NA`` is NaN
        here: pandas' nullable columns hold their missing entries as NaN once
        converted to floats. Data are numeric
        only: encode strings first (``OneHotEncoder``, see
        ``categorical_groups``).

    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator`'s output (one 0/1
        column per feature that had missing values in :meth:`fit`) to the
        imputed data, as scikit-learn's imputers do. It marks the entries equal
        to ``missing_values``: a categorical group missing as all zeros has no
        mark, one with a missing entry a mark in that entry's column only.

    keep_empty_features : bool, default=False
        Keep the features that had no observed value in :meth:`fit`, their
        missing entries imputed with 0 and their observed ones as given; by
        default they are dropped from the output, with a UserWarning naming
        them, as scikit-learn's imputers drop them. Either way the network
        never reads them: it has learned nothing about them. Training data with
        no observed entry at all are refused (where scikit-learn's imputers
        return no column, or zeros): there is no network to fit.

    categorical_groups : list of sequences of int or None, default=None
        Column indices of one-hot blocks, one per categorical feature, as
        :class:`~sklearn.preprocessing.OneHotEncoder` (``drop=None``) writes
        them (:func:`skae.categorical_groups_from` reads them from a fitted
        :class:`~sklearn.compose.ColumnTransformer`). A group is observed in
        a row where one of its entries is an observed 1 (its missing entries
        there are imputed 0), and missing as a whole otherwise: all 0 (an
        unknown category) or 0s beside missing entries. It is reconstructed by
        a softmax over its columns, trained by cross-entropy, and, where
        missing, imputed with the one-hot row of its most probable category
        among those its observed 0s leave open. Group columns are not
        standardized. A group all of whose columns are missing in every
        training row is empty, as a feature; one with only some such columns
        is not (their NaNs beside an observed 1 are 0s), and warns: their
        categories are never observed. A group missing as a whole in every
        training row otherwise (no observed 1 in any) is refused too: nothing
        of it could be learned.

    min_value : float or array-like of shape (n_features,), default=-np.inf
        Least value an imputed entry may take, in the input's units: a
        reconstruction below it is imputed as ``min_value``. A number bounds
        every feature, an array-like each feature in turn, as
        :class:`~sklearn.impute.IterativeImputer`'s does. Observed entries are
        returned as given, even beyond the bounds, and training does not use
        the bounds. The columns of categorical groups (imputed one-hot) and the
        empty features ``keep_empty_features`` keeps (imputed 0) ignore them.
        float32 data are bounded by the bounds rounded to float32 (to nearest).
        The bounds of the last fit apply in :meth:`transform`.

    max_value : float or array-like of shape (n_features,), default=np.inf
        Greatest value an imputed entry may take, as ``min_value``; every
        feature's ``min_value`` must lie below its ``max_value``.

    n_components : int, default=16
        Width of the network's linear code layer.

    hidden_layer_sizes : array-like of int or int, default=(128, 128)
        Widths of the encoder's hidden layers.

    decoder_layer_sizes : array-like of int, int or None, default=None
        Widths of the decoder's hidden layers; None mirrors the encoder.

    activation : {"relu", "leaky_relu", "elu", "softplus", "tanh", "logistic", \
"identity"}, default="relu"
        Activation of the hidden layers.

    alpha : float, default=3e-4
        L2 penalty on the weight matrices (``alpha / 2 · ‖W‖²``). Noisy real
        tables gain from more (1e-3 on breast cancer), smooth low-noise data
        from less (1e-4 on the synthetic manifolds); the default is between.

    mask_as_input : bool, default=True
        Append the observed-entries mask (1 observed, 0 missing or zeroed by
        the masking noise) to the network's inputs, so that it can tell a
        missing entry from an observed mean.

    noise : {"gaussian", "masking", "salt_and_pepper"} or None, default="masking"
        Corruption of the training inputs on top of the missing entries;
        ``"masking"`` hides a further fraction ``noise_level`` of the entries
        (of the variables: a categorical group is hidden as a whole), which the
        network must then reconstruct (as it will the holes). Another noise
        fitted on data without missing entries never shows the network one:
        ``fit`` warns then.

    noise_level : float, default=0.25
        Fraction of entries hidden (``"masking"``), or the noise's standard deviation.

    batch_size : int or "auto", default="auto"
        Minibatch size, as in :class:`AutoencoderTransformer`.

    learning_rate : {"constant", "adaptive", "cosine"}, default="adaptive"
        Learning-rate schedule, as in :class:`AutoencoderTransformer`:
        ``"adaptive"`` divides the rate by 5 at each plateau of the loss (see
        ``n_iter_no_change``) and stops below ``learning_rate_init / 1000`` or
        at ``max_iter``.

    learning_rate_init : float, default=1e-3
        Adam's (initial) step size.

    max_iter : int, default=2000
        Maximum number of epochs. Imputation needs a well converged network:
        on smooth data the error keeps falling long after the training loss
        seems flat. The stopping rule ends the fit first (on the bundled
        datasets with 10–20 % of the entries missing, after roughly 400 to
        1,100 epochs).

    shuffle : bool, default=True
        Whether to shuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling, validation split and noise.

    tol : float, default=1e-4
        Relative tolerance of the stopping rule: an improvement of the
        monitored loss by less than ``tol`` times its best does not count
        (by less than ``tol`` itself where every feature is constant, as for
        :class:`AutoencoderTransformer`).

    verbose : bool, default=False
        Print one line per epoch.

    warm_start : bool, default=False
        Continue from the previous fit. The first fit's standardization is kept,
        and so are its empty and constant features: empty ones stay unread and
        dropped (or kept as ``keep_empty_features`` says) even if this ``X``
        observes them; constant ones enter the network as their constant. The
        first fit's ``indicator_`` is kept too (the output keeps its columns):
        a feature with missing values only in a later fit gets no indicator.
        The optimizer state it goes on from is the last epoch's, also where
        early stopping restored an earlier epoch's weights.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their loss
        over observed entries stops improving.

    validation_fraction : float, default=0.1
        Share of the rows held out. Only used when ``early_stopping=True``.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.

    n_iter_no_change : int, default=50
        Epochs without improvement by ``tol`` that make a plateau (more than
        the transformer's 20: the masking noise makes the training loss
        noisy).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features_in_,)
        Mean of each feature's observed entries in :meth:`fit` (0 for the
        columns of categorical groups and for empty features).

    scale_ : ndarray of shape (n_features_in_,)
        Standard deviation of each feature's observed entries (1 for group
        columns, empty and constant features). A constant feature (its observed
        entries equal, up to rounding) has its value as ``mean_``; its missing
        entries are imputed with it, and a different value at transform time
        does not change how the other features are imputed.

    indicator_ : MissingIndicator or None
        The indicator behind ``add_indicator``; None without it.

    coefs_, intercepts_ : list of ndarray
        The network's weight matrices and biases (the first layer has
        ``2 * n_features_in_`` inputs with ``mask_as_input``).

    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of training samples seen.

    loss_ : float
        Training loss of the last epoch (mean squared error over the observed
        entries, in standardized units, plus the penalty).

    loss_curve_ : list of float
        Training loss of every epoch.

    best_loss_ : float
        Smallest entry of ``loss_curve_``.

    validation_loss_curve_ : list of float or None
        Validation loss of every epoch with ``early_stopping``, else None.

    best_validation_loss_ : float or None
        Validation loss of the weights kept with ``early_stopping`` (the best
        epoch's); None without.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when all are strings.

    See Also
    --------
    sklearn.impute.IterativeImputer : One regression per feature, round-robin.
    sklearn.impute.KNNImputer : Imputation from the nearest neighbours.
    sklearn.impute.SimpleImputer : Per-feature mean, median or most frequent value.
    AutoencoderTransformer : The autoencoder itself, which also accepts missing values.

    Notes
    -----
    The imputer standardizes internally: the network is trained on
    ``(X - mean_) / scale_`` computed from the observed entries (group columns
    excepted), so it belongs *before* any scaler in a pipeline, and its output
    is in the input's units. Missing entries enter the network as 0 (the
    mean), with the mask as further inputs. The training loss is the squared
    error over observed entries, ``Σ_ij M_ij (R_ij - Z_ij)² / Σ_ij M_ij``
    (cross-entropy for a categorical group, counting as one entry), estimated
    without bias by every minibatch (see :ref:`missing`). Only missing entries
    are written: an observed entry of the output is bitwise the input's,
    except the columns of a categorical group that is missing as a whole,
    which are all rewritten to a valid one-hot row. A row with no observed
    entry (but of features empty or constant in fit) gets ``mean_`` in its
    numeric features, as ``SimpleImputer`` would give it: the network never
    trains on a row it sees nothing of (masking hides a share of the entries),
    and its output there was further from the data on average (breast cancer
    with 30 % missing: 1.12 against the means' 1.00); its categorical groups
    get the network's category.

    The defaults reach a mean squared error of 0.25 on standardized breast
    cancer with half of the entries missing at random (IterativeImputer: 0.32
    with BayesianRidge, 0.34 with ExtraTrees);
    :ref:`missing` has the benchmark.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from skae import AutoencoderImputer
    >>> X, _ = load_diabetes(return_X_y=True)
    >>> rng = np.random.RandomState(0)
    >>> X_missing = np.where(rng.uniform(size=X.shape) < 0.2, np.nan, X)
    >>> imputer = AutoencoderImputer(max_iter=20, random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> observed = ~np.isnan(X_missing)
    >>> bool((X_filled[observed] == X_missing[observed]).all())
    True
    """

    # Fixed choices of the network, read by the shared fit flow; not parameters.
    loss = "squared_error"
    sparsity = 0.0
    contraction = 0.0
    tied_weights = False

    _standardizes_inputs = True

    #: Features never observed are dropped (or kept) with a warning of the imputer's own.
    _warns_of_unobserved_features = False

    _parameter_constraints: dict = {
        "missing_values": [MissingValues(numeric_only=True)],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        "categorical_groups": [list, tuple, None],
        "min_value": [None, Interval(Real, None, None, closed="both"), "array-like"],
        "max_value": [None, Interval(Real, None, None, closed="both"), "array-like"],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "decoder_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "mask_as_input": ["boolean"],
        "noise": [StrOptions(set(NOISES)), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        **{
            key: AutoencoderTransformer._parameter_constraints[key]
            for key in (
                "batch_size",
                "learning_rate",
                "learning_rate_init",
                "max_iter",
                "shuffle",
                "random_state",
                "tol",
                "verbose",
                "warm_start",
                "validation_fraction",
                "beta_1",
                "beta_2",
                "epsilon",
                "n_iter_no_change",
            )
        },
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        add_indicator=False,
        keep_empty_features=False,
        categorical_groups=None,
        min_value=-np.inf,
        max_value=np.inf,
        n_components=16,
        hidden_layer_sizes=(128, 128),
        decoder_layer_sizes=None,
        activation="relu",
        alpha=3e-4,
        mask_as_input=True,
        noise="masking",
        noise_level=0.25,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        max_iter=2000,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=50,
    ):
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.categorical_groups = categorical_groups
        self.min_value = min_value
        self.max_value = max_value
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.mask_as_input = mask_as_input
        self.noise = noise
        self.noise_level = noise_level
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = is_scalar_nan(self._marker())
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- validation and standardization -----------------------------------------------------
    def _check_X(self, X, *, reset, dtype=(np.float64, np.float32)):
        try:
            placeholder = float(self._marker())
        except OverflowError:  # an integer beyond float64
            raise ValueError(
                f"missing_values={self.missing_values!r} is beyond float64's range, so no "
                "entry of X could equal it. Mark missing entries with NaN (the default "
                "missing_values) or a value X can hold."
            ) from None
        if math.isinf(placeholder):
            raise ValueError(
                f"missing_values={self.missing_values!r} cannot mark missing entries: X "
                "must be finite. Replace the infinities with NaN and keep "
                "missing_values=np.nan (the default)."
            )
        try:
            return super()._check_X(X, reset=reset, dtype=dtype)
        except ValueError as exc:
            if not str(exc).startswith("Input X contains NaN."):
                raise
            if self.categorical_groups is not None and placeholder in (0.0, 1.0):
                other = ""  # 0 and 1 are a one-hot group's values: not a placeholder then
            else:
                other = f", or replace the NaNs with {self.missing_values!r}"
            raise ValueError(
                f"Input X contains NaN, but missing_values={self.missing_values!r}: NaN is "
                f"missing only with missing_values=np.nan (the default). Set that{other}."
            ) from exc

    def _infinity_advice(self, allow_nan):
        if allow_nan:
            return super()._infinity_advice(allow_nan)
        return f"with {self.missing_values!r} (missing_values) to impute them"

    def _marker(self):
        """``missing_values`` as a number: pandas' NA marks what float data hold as NaN."""
        return np.nan if is_pandas_na(self.missing_values) else self.missing_values

    def _missing_as_nan(self, X):
        """A copy of validated ``X`` with the missing entries as NaN."""
        Z = np.array(X, dtype=X.dtype, copy=True)
        if not is_scalar_nan(self._marker()):
            # A Python float compares in X's dtype: np.float64(0.1) would miss float32's 0.1.
            Z[Z == float(self._marker())] = np.nan
        return Z

    def _training_data(self, X, continuing):
        """:meth:`_standardized` ``X``; continuing, the features empty in the first fit missing.

        A warm-started fit trains as the first did: the features empty there
        (a group's columns all together, or none) stay unseen by the network,
        as in :meth:`transform`, whatever this ``X`` holds in them. Its
        one-hot groups are checked as given, as :meth:`transform` checks them.
        """
        bounds = self._bounds(X.shape[1])  # checked before anything is trained
        Z, learned = self._standardized(X, continuing)
        learned = {**learned, **bounds}
        nan = np.isnan(Z)
        seen = ~nan.all(axis=0)  # an empty feature never reaches the network
        hides = self.noise == "masking" and self.noise_level > 0
        if not hides and not nan[:, seen].any():
            where = "" if seen.all() else " outside the features it never observes"
            warnings.warn(
                f"X has no missing entries{where} and "
                f"noise={self.noise!r}, noise_level={self.noise_level}: the network never "
                "sees a missing entry in training, and imputes them poorly. Keep "
                'noise="masking" (the default), which hides entries as missing ones '
                "are, or fit on data with missing entries.",
                UserWarning,
                stacklevel=_outside_stacklevel(),
            )
        if continuing and self._empty_features.any():
            groups = self._spec_groups_of(X.shape[1])
            MissingEntries(X.shape[1], groups).check_one_hot(Z)
            Z[:, self._empty_features] = np.nan
        return Z, learned

    def _bounds(self, n_features):
        """``{"_min_value": ..., "_max_value": ...}``: the bounds, one per feature, checked."""
        bounds = {}
        for name, default in (("min_value", -np.inf), ("max_value", np.inf)):
            value = getattr(self, name)
            if value is None:
                value = default
            try:
                if np.ndim(value) == 0:
                    value = np.full(n_features, value, dtype=np.float64)
                else:
                    # A copy: the fitted bounds do not follow later edits of the caller's.
                    value = check_array(
                        value, ensure_2d=False, ensure_all_finite=False, dtype=np.float64,
                        copy=True, input_name=name,
                    )
            except (OverflowError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not a bound: give a float, or an "
                    f"array-like of {n_features} floats, one per feature ({exc})."
                ) from None
            if value.shape != (n_features,):
                raise ValueError(
                    f"{name} has shape {value.shape}, but X has {n_features} features: "
                    "give one bound per feature, or one number for all."
                )
            if np.isnan(value).any():
                j = int(np.flatnonzero(np.isnan(value))[0])
                raise ValueError(
                    f"{name} is NaN for feature {j}: give a number, or "
                    f"{'-' if default < 0 else ''}np.inf for no bound."
                )
            bounds[f"_{name}"] = value
        low, high = bounds["_min_value"], bounds["_max_value"]
        if (low >= high).any():
            j = int(np.flatnonzero(low >= high)[0])
            raise ValueError(
                f"One (or more) features have min_value >= max_value: feature {j} has "
                f"min_value={float(low[j])!r} and max_value={float(high[j])!r}. Give every "
                "feature a min_value below its max_value."
            )
        return bounds

    def _refuse_unobserved_groups(self, X, spec, train_rows):
        # A group missing in every entry is an empty feature (dropped, or kept, as the
        # others are), not refused; X is the standardized data, missing entries NaN.
        groups = spec.get("categorical_groups", ())
        groups = [g for g in groups if not np.isnan(X[:, list(g)]).all()]
        super()._refuse_unobserved_groups(X, {**spec, "categorical_groups": groups}, train_rows)

    def _standardized(self, X, continuing):
        """A standardized copy of ``X``, by its observed entries, and what was learned.

        Returns ``(Z, learned)``: ``learned`` holds the fitted attributes of the
        standardization (and the indicator) when not ``continuing``, to be set
        with the model's when the fit succeeds; else ``{}`` (the fitted ones are
        used).
        """
        Z = self._missing_as_nan(X)
        if not continuing:
            groups = self._spec_groups_of(X.shape[1])
            observed = ~np.isnan(Z)
            empty = ~observed.any(axis=0)
            for g in groups:
                # A group is empty as a whole or not at all: a column missing in every
                # row stays in it (its NaNs beside an observed 1 are 0s).
                columns = list(g)
                if empty[columns].any() and not empty[columns].all():
                    warnings.warn(
                        f"Column {columns[int(np.argmax(empty[columns]))]} of the "
                        f"categorical group {columns} is missing in every training row: "
                        "its category is never observed, so the imputer gives it only to "
                        "rows whose other columns in the group are observed 0s, never to "
                        "a group missing as a whole. Fit on rows where it is observed to "
                        "learn it.",
                        UserWarning,
                        stacklevel=_outside_stacklevel(),
                    )
                empty[columns] = empty[columns].all()
            mean = np.zeros(X.shape[1])
            scale = np.ones(X.shape[1])
            numeric = ~empty
            for g in groups:
                numeric[list(g)] = False
            constant = np.zeros(X.shape[1], dtype=bool)
            if numeric.any():
                values = Z[:, numeric].astype(np.float64)
                # Each feature is brought near 1 by a power of two (exact) before its
                # squares are summed: those of 1e160 overflow, those of 1e-170 vanish
                # (their deviation would read 0, a constant); data near 1 are unchanged.
                exponent = np.frexp(np.nanmax(np.abs(values), axis=0))[1]
                unit = np.ldexp(values, -exponent)
                mean[numeric] = np.ldexp(np.nanmean(unit, axis=0), exponent)
                std = np.ldexp(np.nanstd(unit, axis=0), exponent)
                # Equal observed values are a constant, though their computed mean and
                # deviation can be off by rounding (0.1 repeated: std ~1e-17, and a
                # scale that small would blow the network's inputs up); so is a spread
                # within rounding error of the mean, as StandardScaler judges it.
                low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
                n_observed = observed[:, numeric].sum(axis=0)
                rounding = n_observed * np.finfo(np.float64).eps * np.abs(mean[numeric])
                flat = (low == high) | (std <= rounding)
                mean[np.flatnonzero(numeric)[flat]] = low[flat]
                scale[numeric] = np.where(flat, 1.0, std)
                constant[numeric] = flat
            from sklearn.impute import MissingIndicator  # on first use: imports are slow

            fitted = {
                "mean_": mean,
                "scale_": scale,
                "_empty_features": empty,
                "_constant_features": constant,
                "_missing_placeholder": self._marker(),
                "indicator_": (
                    MissingIndicator(
                        missing_values=self._marker()
                        if is_scalar_nan(self._marker())
                        else float(self._marker()),
                        error_on_new=False,
                    )
                    .fit(X)
                    if self.add_indicator
                    else None
                ),
            }
            stats = fitted
        else:
            fitted = {}
            stats = {
                "mean_": self.mean_,
                "scale_": self.scale_,
                "_constant_features": self._constant_features,
            }
        mean, scale = stats["mean_"].astype(Z.dtype), stats["scale_"].astype(Z.dtype)
        with np.errstate(over="ignore"):
            Z -= mean
        overflowed = np.isinf(Z)  # Z's entries are finite or NaN (missing)
        Z /= scale
        if overflowed.any():  # huge values of both signs: these divide before subtracting
            rows, columns = np.nonzero(overflowed)
            values = np.asarray(X[rows, columns], dtype=Z.dtype)
            Z[rows, columns] = values / scale[columns] - mean[columns] / scale[columns]
        # A constant feature carries nothing the network could learn: its observed
        # entries enter as 0, in training and in transform, whatever their value.
        constant = stats["_constant_features"]
        if constant.any():
            Z[:, constant] = np.where(np.isnan(Z[:, constant]), np.nan, 0)
        return Z, fitted

    def _check_continuation(self, spec, incremental):
        super()._check_continuation(spec, incremental)
        fitted = self._missing_placeholder
        if not (
            (is_scalar_nan(fitted) and is_scalar_nan(self._marker()))
            or fitted == self._marker()
        ):
            raise ValueError(
                f"missing_values={self.missing_values!r} differs from the fitted "
                f"{fitted!r}; warm_start cannot change it. Refit with warm_start=False."
            )
        if self.add_indicator != (self.indicator_ is not None):
            raise ValueError(
                f"add_indicator={self.add_indicator!r} differs from the fitted "
                f"{not self.add_indicator!r}; warm_start cannot change it. Refit with "
                "warm_start=False."
            )

    def _training_data_hint(self, context):
        """A warm start standardizes with the first fit's statistics: data far from them."""
        if context["n_iter"] == 0:  # a first fit: standardized by its own data
            return None
        with np.errstate(invalid="ignore"):
            farthest = float(np.nanmax(np.abs(context["X"]), initial=0.0))
        if not farthest > _FAR_FROM_FIRST_FIT:
            return None
        return (
            "This warm-started fit standardizes X with the first fit's mean_ and scale_, "
            f"and X lies up to {farthest:.3g} of those scales from mean_: refit with "
            "warm_start=False, which standardizes by this X."
        )

    def _spec_groups_of(self, n_features):
        from ._categorical import check_categorical_groups

        groups = check_categorical_groups(self.categorical_groups, n_features)
        placeholder = self._marker()
        if groups and not is_scalar_nan(placeholder) and placeholder in (0, 1):
            raise ValueError(
                f"missing_values={placeholder!r} cannot mark the missing entries of data "
                "with categorical_groups: their one-hot columns hold 0s and 1s as values. "
                "Mark missing entries with NaN (the default missing_values) or another "
                "value than 0 and 1."
            )
        return groups

    # -- public API -------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def fit(self, X, y=None):
        """Fit the imputer on ``X``, learning from its observed entries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values (``missing_values``). Dense only; float32
            input is trained in float32.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted imputer.
        """
        return self._fit(X, None, incremental=False)

    def _refuse_statistics_beyond(self, dtype):
        """Raise if a feature's mean, scale or bounds do not fit in ``dtype`` (float32 data).

        A bound that rounds to infinity on its own side (a ``min_value`` beyond the
        largest float32) would make every imputation of its feature infinite.
        """
        if dtype == np.float64:
            return
        with np.errstate(over="ignore"):
            mean, scale = self.mean_.astype(dtype), self.scale_.astype(dtype)
            low, high = self._min_value.astype(dtype), self._max_value.astype(dtype)
        numeric = np.ones(mean.size, dtype=bool)  # the bounds leave one-hot groups alone
        for g in self._categorical_groups:
            numeric[list(g)] = False
        for beyond, what in (
            (
                ~(np.isfinite(mean) & np.isfinite(scale)),
                lambda j: f"was fitted on data beyond {np.dtype(dtype)}'s range (feature "
                f"{j}: mean {self.mean_[j]:.3g}, scale {self.scale_[j]:.3g})",
            ),
            (
                numeric & ((low == np.inf) | (high == -np.inf)),
                lambda j: f"has bounds beyond {np.dtype(dtype)}'s range (feature {j}: "
                f"min_value {self._min_value[j]:.3g}, max_value {self._max_value[j]:.3g})",
            ),
        ):
            if beyond.any():
                raise ValueError(
                    f"This imputer {what(int(np.flatnonzero(beyond)[0]))}, so X in "
                    f"{np.dtype(dtype)} cannot be imputed with it: pass X as float64 "
                    "(X.astype(np.float64))."
                )

    def transform(self, X):
        """Impute every missing entry of ``X`` from the network's reconstruction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            ``X`` (float32 for float32 ``X``, else float64) with its missing
            entries filled in, every observed entry unchanged (except in a
            categorical group missing as a whole, rewritten to one-hot);
            without the empty features unless ``keep_empty_features``; with
            the indicator columns appended if ``add_indicator``. Always a new
            array: ``X`` is never modified (there is no ``copy`` parameter to
            set, unlike scikit-learn's imputers).
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        self._refuse_statistics_beyond(X.dtype)
        with np.errstate(over="ignore"):  # an imputation that overflows is refused below
            Z = self._standardized(X, continuing=True)[0]
        missing = MissingEntries(
            X.shape[1], self._categorical_groups, as_input=self._mask_as_input
        )
        missing.check_one_hot(Z)
        empty = self._empty_features
        unseen = empty & np.isnan(Z)  # missing entries of the features empty in fit
        # The network never saw a value of an empty feature (a group holding one is
        # empty as a whole, or refused in fit): they stay hidden from it.
        hidden = empty
        out = np.array(X, dtype=X.dtype, copy=True)
        objective = self._objective()
        mean, scale = self.mean_.astype(X.dtype), self.scale_.astype(X.dtype)  # they fit
        constant = self._constant_features
        groups = self._categorical_groups
        # Where a row shows the network nothing (no observed entry of a feature neither
        # empty nor constant in fit), its numeric features get their means, as
        # SimpleImputer gives them: what the network returns for an input it never
        # saw in training (masking hides a share of the entries, never a whole row)
        # is further from them on average.
        informative = ~(empty | constant)
        numeric = np.ones(X.shape[1], dtype=bool)
        for g in groups:
            numeric[list(g)] = False
        low, high = self._min_value, self._max_value
        bounded = numeric & ((low > -np.inf) | (high < np.inf))
        imputed = np.zeros(X.shape, dtype=bool) if bounded.any() else None
        for rows in self._chunks(X.shape[0]):
            chunk = Z[rows]
            nan = np.isnan(chunk) if groups else None
            observed = np.empty_like(chunk)
            missing.fill(chunk, observed)
            block = out[rows]
            if groups:
                # A group with an observed 1 is observed: its NaNs are 0s of that category.
                block[nan & (observed != 0)] = 0
            holes = observed == 0
            if not holes.any():
                continue
            blind = ~(observed[:, informative] != 0).any(axis=1)
            chunk[:, hidden] = 0
            observed[:, hidden] = 0
            with np.errstate(over="ignore", invalid="ignore"):  # refused below if it overflows
                raw = objective.network.raw_output(missing.network_inputs(chunk, observed))
                logits = [_candidate_logits(raw[:, g], nan[:, g]) for g in groups]
                filled = objective.output(raw)
                filled *= scale
                filled += mean
            for g, group_logits in zip(groups, logits, strict=True):
                filled[:, g] = one_hot_argmax(group_logits)
            filled[:, constant] = mean[constant]  # a constant feature keeps its value
            if blind.any():
                filled[np.ix_(blind, numeric)] = mean[numeric]
            with np.errstate(over="ignore"):  # a cast to float32 that overflows: refused below
                block[holes] = filled[holes]
            if imputed is not None:
                imputed[rows] = holes
        # The observed entries are finite: only an imputation can overflow.
        _refuse_overflow(
            self,
            out,
            "imputed values",
            advice="Check the observed values of those rows, or fit the imputer on data "
            "of their range.",
        )
        if imputed is not None:
            imputed[:, ~bounded] = False
            with np.errstate(over="ignore"):  # beyond float32's range: no bound (else refused)
                low, high = low.astype(out.dtype), high.astype(out.dtype)
            np.clip(out, low, high, out=out, where=imputed)
        if self.keep_empty_features:
            # As scikit-learn's imputers keep them: observed entries as given, missing 0.
            out[:, empty] = np.where(unseen[:, empty], 0, X[:, empty])
        elif empty.any():
            # As scikit-learn's SimpleImputer and IterativeImputer say so, by name if any.
            names = getattr(self, "feature_names_in_", np.arange(X.shape[1]))[empty]
            warnings.warn(
                f"Skipping features without any observed values: {names}. At least "
                "one observed value in fit is needed to impute a feature; pass "
                "keep_empty_features=True to keep them (their missing entries 0).",
                UserWarning,
                stacklevel=_outside_stacklevel(),
            )
            out = out[:, ~empty]
        if self.indicator_ is not None:
            # The indicator is an internal step: a global transform_output (polars,
            # pandas) is this estimator's to apply, to the whole output.
            with config_context(transform_output="default"):
                indicator = self.indicator_.transform(X)  # dense: so is X
            out = np.hstack([out, np.asarray(indicator, dtype=out.dtype)])
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: the kept input features, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The imputed features' names, then ``missingindicator_<name>`` for
            each indicator column with ``add_indicator``.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        kept = names if self.keep_empty_features else names[~self._empty_features]
        if self.indicator_ is None:
            return kept
        return np.concatenate([kept, self.indicator_.get_feature_names_out(names)])


def _candidate_logits(logits, nan):
    """A group's ``logits``, those of the categories its row rules out at ``-inf``.

    A group missing as a whole takes one of its categories; where the row has
    NaN entries, its observed 0s rule their categories out, so only a NaN
    column can take the 1 (``[0, NaN, NaN]`` is the second or the third
    category). An all-zero row (an unknown category) rules nothing out.
    """
    if not nan.any():
        return logits
    allowed = nan | ~nan.any(axis=1, keepdims=True)
    return np.where(allowed, logits, -np.inf)
