"""The scikit-learn adapter: parameters, validation, fitted state. No maths here."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._activations import ACTIVATIONS
from ._callbacks import CallbackSupportMixin, epoch_callback, fit_task
from ._losses import LOSSES, weighted_mean
from ._network import Network
from ._optim import Adam
from ._training import train, validation_split

#: Upper bound (MiB) on the temporaries of transform, inverse_transform and score.
_INFERENCE_MEMORY_MIB = 64

#: Fitted attributes that are views into ``_params`` and rebuilt after unpickling.
_VIEW_ATTRIBUTES = ("coefs_", "intercepts_")


class InconsistentVersionWarning(UserWarning):
    """A model pickled by one version of skae is loaded by another."""


def _layer_tuple(value, name):
    sizes = (value,) if isinstance(value, Integral) else tuple(value)
    for size in sizes:
        if not isinstance(size, Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"{name} must contain positive integers only, got {value!r}.")
    return tuple(int(s) for s in sizes)


#: Names of the independent random streams of a fit; see :func:`_random_streams`.
_STREAMS = ("init", "shuffle", "split", "noise")


def _random_streams(random_state, n_iter):
    """Independent generators for one fit, children of one ``numpy.random.SeedSequence``.

    ``"init"`` draws the initial weights, ``"shuffle"`` the epoch orders, ``"split"``
    the validation seed and ``"noise"`` is for variants that corrupt their inputs.
    An int ``random_state`` gives the same streams for the same ``n_iter`` (the
    number of epochs already run), so that a continued fit (``warm_start``,
    ``partial_fit``) draws fresh streams and the same history reproduces bitwise.
    None draws fresh entropy from the OS; a ``RandomState`` instance is consumed,
    as scikit-learn estimators consume them.
    """
    if random_state is None:
        root = np.random.SeedSequence()
    elif isinstance(random_state, Integral):
        root = np.random.SeedSequence(int(random_state), spawn_key=(int(n_iter),))
    else:
        entropy = check_random_state(random_state).randint(0, 2**32, size=4, dtype=np.uint64)
        root = np.random.SeedSequence([int(e) for e in entropy])
    children = root.spawn(len(_STREAMS))
    return {
        name: np.random.Generator(np.random.PCG64(child))
        for name, child in zip(_STREAMS, children, strict=True)
    }


#: Words of the errors NumPy, pandas and scikit-learn raise for input that is not numbers.
_CONVERSION_ERRORS = (
    "could not convert",
    "cannot cast",
    "argument must be a string or a real number",
    "unable to convert",
    "invalid literal",
)


def _non_numeric_columns(X):
    """Names of the columns of data frame ``X`` that are not numbers (none for arrays)."""
    if isinstance(X, np.ndarray) or sp.issparse(X) or not hasattr(X, "columns"):
        return []
    is_pandas = type(X).__module__.startswith("pandas")
    if is_pandas:
        from pandas.api.types import is_numeric_dtype
    names = []
    for name in X.columns:
        if is_pandas:
            numeric = is_numeric_dtype(X[name].dtype)
        else:
            try:
                np.asarray(X[name], dtype=np.float64)
                numeric = True
            except (TypeError, ValueError):
                numeric = False
        if not numeric:
            names.append(name)
    return names


def _auto_batch_size(n_samples):
    """``n_samples // 32`` clipped to [32, 128]: ~32 updates an epoch from 1024 rows on."""
    return int(min(n_samples, np.clip(n_samples // 32, 32, 128)))


class AutoencoderTransformer(
    CallbackSupportMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Autoencoder for nonlinear dimensionality reduction.

    An encoder network maps each sample to a code of ``n_components`` values
    (the linear bottleneck); a decoder maps codes back to feature space. Both are
    trained together by minibatch Adam to reconstruct the training data.
    :meth:`transform` returns the codes of new data and :meth:`inverse_transform`
    decodes codes into feature space, so the estimator can stand wherever
    :class:`~sklearn.decomposition.PCA` does, in a :class:`~sklearn.pipeline.Pipeline`
    for instance. Scale the inputs first (e.g. with
    :class:`~sklearn.preprocessing.StandardScaler`).

    Parameters
    ----------
    n_components : int, default=2
        Width of the code layer (the bottleneck). May exceed ``n_features``
        (an overcomplete code), though it rarely helps.

    hidden_layer_sizes : array-like of int or int, default=(128, 64)
        Widths of the encoder's hidden layers, from the input towards the code.
        ``()`` gives a single linear layer each way.

    decoder_layer_sizes : array-like of int, int or None, default=None
        Widths of the decoder's hidden layers, from the code towards the output.
        None mirrors the encoder (``hidden_layer_sizes`` reversed).

    activation : {"relu", "leaky_relu", "elu", "softplus", "tanh", "logistic", \
"identity"}, default="relu"
        Activation of the hidden layers. The code layer is always linear; so is
        the output layer (see ``loss``). With ``"identity"`` the network is a
        linear autoencoder.

    loss : {"squared_error", "binary_crossentropy"}, default="squared_error"
        Reconstruction loss. ``"binary_crossentropy"`` is for data in [0, 1]
        (fitting on anything else warns): the output layer then produces logits
        and reconstructions are their logistic sigmoid.

    alpha : float, default=1.5e-3
        L2 penalty: ``alpha / 2`` times the squared norm of all weight matrices
        is added to the mean reconstruction loss (biases are not penalised).
        The default keeps datasets of a few hundred rows from overfitting;
        lower it for large datasets.

    batch_size : int or "auto", default="auto"
        Minibatch size. ``"auto"`` uses ``n_samples // 32`` clipped to
        ``[32, 128]``: about 32 updates per epoch from 1024 to 4096 samples,
        more above, and batches of 32 below. Larger than the number of
        (training) samples means full batch.

    learning_rate_init : float, default=2e-3
        Adam's step size.

    max_iter : int, default=300
        Maximum number of epochs (passes over the training data).

    shuffle : bool, default=True
        Whether to shuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the validation split,
        each drawn from its own child of one :class:`numpy.random.SeedSequence`.
        An int gives bitwise-identical results across calls with the same
        history of fits; a continued fit (``warm_start``, :meth:`partial_fit`)
        derives its streams from the seed and ``n_iter_``, so it draws anew.
        A ``RandomState`` instance is consumed; None uses fresh OS entropy.
        See :term:`Glossary <random_state>`.

    tol : float, default=1e-4
        Training stops when the monitored loss (validation loss with
        ``early_stopping``, else training loss) has not improved by at least
        ``tol`` for ``n_iter_no_change`` consecutive epochs.

    verbose : bool, default=False
        Print one line per epoch: training loss, validation loss, time.

    warm_start : bool, default=False
        When True, :meth:`fit` continues from the previous weights and optimizer
        state instead of starting afresh. The network's shape, ``activation``
        and ``loss`` must not change (nor for :meth:`partial_fit`). A fitted
        model always uses the ``activation`` and ``loss`` it was fitted with.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples, monitor their
        reconstruction loss to decide when to stop, and restore the weights of
        the epoch with the best validation loss. The validation samples are
        chosen by row content, so duplicated rows fall on the same side; with
        ``warm_start``, later fits hold out the same rows (by content) as the
        first fit that used early stopping. Not used by :meth:`partial_fit`.

    validation_fraction : float, default=0.1
        Share of the (sample-weighted) training data held out for validation.
        Groups of identical rows are held out whole, so the held-out share is
        at most ``validation_fraction`` and short of it by less than the weight
        of the lightest group left in training (if no group is light enough,
        the lightest one is held out). Only used when ``early_stopping=True``.

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Adam's numerical-stability term.

    n_iter_no_change : int, default=20
        Number of epochs without improvement by ``tol`` before stopping.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, encoder layers then decoder layers; ``coefs_[i]`` has
        shape ``(n_inputs, n_outputs)`` of layer ``i``. Views into one flat
        parameter vector.

    intercepts_ : list of ndarray
        Bias vectors, in the same order as ``coefs_``.

    n_iter_ : int
        Number of iterations: :meth:`fit` epochs plus :meth:`partial_fit` calls,
        accumulated over ``warm_start`` fits. Each :meth:`partial_fit` call is
        one pass over the data it is given, whatever its size, and counts one
        (as in :class:`~sklearn.neural_network.MLPRegressor`).

    t_ : int
        Number of training samples seen (accumulated likewise).

    loss_ : float
        Training objective (mean reconstruction loss plus the L2 term) of the
        last epoch.

    loss_curve_ : list of float
        Training objective of every iteration (``n_iter_`` entries).

    best_loss_ : float
        Smallest entry of ``loss_curve_``.

    validation_loss_curve_ : list of float or None
        (Weighted) mean reconstruction loss of the validation samples after
        every iteration: ``n_iter_`` entries, NaN for iterations without
        validation (:meth:`partial_fit` calls, ``warm_start`` fits without
        ``early_stopping``, epochs before it was switched on). ``warm_start``
        fits and :meth:`partial_fit` append to it. None if no epoch had
        validation.

    best_validation_loss_ : float or None
        Validation loss of the weights held after the last fit with
        ``early_stopping`` (that fit restores its best epoch, so this is the
        smallest entry of ``validation_loss_curve_`` among that fit's epochs).
        Kept by later :meth:`partial_fit` calls and ``warm_start`` fits without
        ``early_stopping``, although they change the weights. None if no fit
        used ``early_stopping``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction; what a linear
        autoencoder converges to.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor; no
        access to a bottleneck.
    sklearn.neural_network.BernoulliRBM : Restricted Boltzmann machine features.

    Notes
    -----
    The network is ``n_features → hidden_layer_sizes → n_components →
    decoder_layer_sizes → n_features``, fully connected, with ``activation``
    on the hidden layers and linear code and output layers. Weights before
    ReLU-like units are drawn He-uniform, the others Glorot-uniform; biases
    start at zero.

    The per-sample error ``e`` is the mean over features of the squared error
    (or of the binary cross-entropy); the training objective is its
    sample-weighted mean over the training samples, ``Σ w e / Σ w``, plus
    ``alpha / 2 · ‖W‖²``. The sample weights are scaled to average 1 over the
    training samples, and a minibatch of ``n`` rows minimises ``Σ w e / n``
    plus the L2 term: an unbiased estimate of the objective, 0 plus the L2
    term for a minibatch of zero weights. ``loss_curve_`` records the mean of
    an epoch's minibatch losses (weighted by their sizes), which is the
    objective evaluated along the epoch. Adam updates the weights with
    ``m ← β1·m + (1-β1)·g``, ``v ← β2·v + (1-β2)·g²`` and
    ``θ ← θ − lr·√(1-β2ᵗ)/(1-β1ᵗ) · m/(√v + ε)``. ``max_iter`` counts epochs,
    not updates.

    With ``activation="identity"`` and squared error, the autoencoder is linear
    and its best reconstruction is PCA's: the codes then span the principal
    subspace (in some basis), and its reconstruction error cannot beat PCA's.

    A fit that fails (bad input, or training that diverges to a non-finite
    loss) raises and leaves the estimator as it was. An interrupted fit
    (``KeyboardInterrupt``) keeps the best weights seen so far (those of the
    last complete epoch, or of the best validation epoch) and warns.

    References
    ----------
    .. [1] G. E. Hinton and R. R. Salakhutdinov, "Reducing the dimensionality of
       data with neural networks", Science 313 (5786), 504-507, 2006.
    .. [2] D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization",
       ICLR 2015. :arxiv:`1412.6980`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(),
    ...                      AutoencoderTransformer(n_components=2, random_state=0))
    >>> codes = pipe.fit_transform(X)
    >>> codes.shape
    (1797, 2)
    >>> pipe.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "decoder_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(set(LOSSES))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 64),
        decoder_layer_sizes=None,
        activation="relu",
        loss="squared_error",
        alpha=1.5e-3,
        batch_size="auto",
        learning_rate_init=2e-3,
        max_iter=300,
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
        n_iter_no_change=20,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.loss = loss
        self.alpha = alpha
        self.batch_size = batch_size
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

    # -- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def fit(self, X, y=None, sample_weight=None):
        """Fit the autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse CSR/CSC input is densified one minibatch at a
            time. float32 input is trained in float32.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the reconstruction loss.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def partial_fit(self, X, y=None, sample_weight=None):
        """Run one epoch of training on ``X``, continuing from the current model.

        The first call initialises the network. ``early_stopping`` and
        ``max_iter`` are not used; the optimizer state carries over between calls.
        Each call is one pass over the ``X`` it is given and adds one to
        ``n_iter_``, whatever the size of ``X``: four calls on the four quarters
        of a data set are one pass over it and count four.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the reconstruction loss.

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._fit(X, sample_weight, incremental=True)

    def _architecture(self, n_features):
        encoder = _layer_tuple(self.hidden_layer_sizes, "hidden_layer_sizes")
        if self.decoder_layer_sizes is None:
            decoder = encoder[::-1]
        else:
            decoder = _layer_tuple(self.decoder_layer_sizes, "decoder_layer_sizes")
        sizes = (n_features, *encoder, self.n_components, *decoder, n_features)
        return sizes, len(encoder) + 1

    def _fit(self, X, sample_weight, incremental):
        saved_state = dict(self.__dict__)
        try:
            return self._fit_unsafe(X, sample_weight, incremental)
        except BaseException:
            # A failed fit leaves the estimator exactly as it was.
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise

    def _fit_unsafe(self, X, sample_weight, incremental):
        continuing = (incremental or self.warm_start) and self.__sklearn_is_fitted__()
        X = self._validate_X(
            X,
            reset=not continuing,
            dtype=self._params.dtype if continuing else [np.float64, np.float32],
        )
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()  # row gathers need CSR; this copies the sparse structure only
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        method = "partial_fit" if incremental else "warm_start"
        if continuing:
            for name, fitted in (("activation", self._activation), ("loss", self._loss)):
                if getattr(self, name) != fitted:
                    raise ValueError(
                        f"The {name} {getattr(self, name)!r} differs from the fitted "
                        f"{fitted!r}; {method} cannot change it. Refit with "
                        "warm_start=False."
                    )
        if self.loss == "binary_crossentropy":
            values = X.data if sp.issparse(X) else X
            if values.size and (values.min() < 0 or values.max() > 1):
                warnings.warn(
                    'loss="binary_crossentropy" expects data in [0, 1], but X ranges over '
                    f"[{values.min():.3g}, {values.max():.3g}]: the loss is unbounded below "
                    "there and the reconstructions stay in [0, 1]. Rescale X (e.g. with "
                    'MinMaxScaler) or use loss="squared_error".',
                    UserWarning,
                    stacklevel=6,
                )
        layer_sizes, n_encoder_layers = self._architecture(X.shape[1])
        if continuing and layer_sizes != self._layer_sizes:
            raise ValueError(
                f"The network's layer sizes {layer_sizes} differ from the fitted ones "
                f"{self._layer_sizes}; {method} cannot change the architecture. Refit "
                "with warm_start=False."
            )

        n_iter = self.n_iter_ if continuing else 0
        streams = _random_streams(self.random_state, n_iter)

        network = Network(
            layer_sizes,
            n_encoder_layers,
            self.activation,
            self.loss,
            dtype=X.dtype,
            params=self._params.copy() if continuing else None,
        )
        if not continuing:
            network.initialize(streams["init"])
        optimizer = Adam(
            network.params,
            learning_rate=self.learning_rate_init,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            state=self._optimizer_state if continuing else None,
        )

        train_rows = validation_rows = None
        # Drawn by the first fit that holds rows out, then kept: continued fits
        # validate on the same rows (by content).
        validation_seed = getattr(self, "_validation_seed", None) if continuing else None
        if self.early_stopping and not incremental:
            if validation_seed is None:
                validation_seed = int(streams["split"].integers(2**63))
            train_rows, validation_rows = validation_split(
                X, sample_weight, self.validation_fraction, validation_seed
            )
        n_train = X.shape[0] if train_rows is None else train_rows.size
        if self.batch_size == "auto":
            batch_size = _auto_batch_size(n_train)
        else:
            batch_size = min(self.batch_size, n_train)
        if sample_weight is not None:
            train_weight = sample_weight if train_rows is None else sample_weight[train_rows]
            if not train_weight.sum() > 0:
                raise ValueError("The training samples' sample_weight sums to zero.")

        result = train(
            network,
            optimizer,
            X,
            sample_weight=sample_weight,
            train_rows=train_rows,
            validation_rows=validation_rows,
            batch_size=batch_size,
            max_epochs=1 if incremental else self.max_iter,
            shuffle=self.shuffle,
            random_state=streams["shuffle"],
            alpha=self.alpha,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            first_epoch=n_iter + 1,
            verbose=self.verbose,
            callback=epoch_callback(self, network, n_iter),
        )

        # Commit the fitted state all at once.
        self._layer_sizes = layer_sizes
        self._n_encoder_layers = n_encoder_layers
        self._activation = self.activation
        self._loss = self.loss
        self._params = network.params
        self._optimizer_state = optimizer.state()
        self._set_views()
        self.n_iter_ = n_iter + result.n_epochs
        self.t_ = (self.t_ if continuing else 0) + result.n_samples_seen
        self.loss_curve_ = (list(self.loss_curve_) if continuing else []) + result.loss_curve
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = float(min(self.loss_curve_))
        # One validation entry per epoch, NaN for epochs without validation.
        curve = self.validation_loss_curve_ if continuing else None
        if not continuing:
            self.best_validation_loss_ = None
        if validation_rows is not None:
            curve = ([np.nan] * n_iter if curve is None else list(curve)) + list(
                result.validation_loss_curve
            )
            self.best_validation_loss_ = float(result.best_validation_loss)
        elif curve is not None:
            curve = list(curve) + [np.nan] * result.n_epochs
        self.validation_loss_curve_ = curve
        self._validation_seed = validation_seed

        if result.interrupted:
            warnings.warn(
                f"Training was interrupted after {result.n_epochs} complete epoch(s); "
                "the model keeps the best weights seen so far.",
                UserWarning,
                stacklevel=6,
            )
        elif not (incremental or result.converged or result.stopped_by_callback):
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=6,
            )
        return self

    # -- fitted state -----------------------------------------------------------------------
    def __sklearn_is_fitted__(self):
        return hasattr(self, "_params")

    def _network(self):
        # What the network was fitted with, whatever set_params did since.
        return Network(
            self._layer_sizes,
            self._n_encoder_layers,
            self._activation,
            self._loss,
            dtype=self._params.dtype,
            params=self._params,
        )

    def _set_views(self):
        network = self._network()
        self.coefs_ = network.coefs
        self.intercepts_ = network.intercepts

    @property
    def _n_features_out(self):
        """Number of output features of :meth:`transform`."""
        return self._layer_sizes[self._n_encoder_layers]

    def __getstate__(self):
        # BaseEstimator returns the live __dict__ itself for classes outside sklearn:
        # copy it, so that saving never edits the model being saved.
        state = dict(super().__getstate__())
        for name in _VIEW_ATTRIBUTES:
            state.pop(name, None)
        from . import __version__

        state["_skae_version"] = __version__
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        pickled_version = state.pop("_skae_version", None)
        if pickled_version is not None and pickled_version != __version__:
            warnings.warn(
                f"Trying to unpickle an AutoencoderTransformer from skae version "
                f"{pickled_version} when using version {__version__}. This might lead "
                "to breaking code or invalid results. Use at your own risk.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
        if "_params" in state:
            self._set_views()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- inference --------------------------------------------------------------------------
    def _chunks(self, n_samples):
        # Temporaries per row: a few layers' outputs. Capped well below scikit-learn's
        # working_memory default, so that a large input streams in modest chunks.
        row_bytes = 4 * max(self._layer_sizes) * self._params.dtype.itemsize
        working_memory = min(get_config()["working_memory"], _INFERENCE_MEMORY_MIB)
        n_rows = get_chunk_n_rows(row_bytes, max_n_rows=n_samples, working_memory=working_memory)
        return gen_batches(n_samples, n_rows)

    def _validate_X(self, X, *, reset, dtype):
        """``validate_data`` for every method that takes data, with errors that say what to do.

        NaN gets advice for a Pipeline instead of scikit-learn's supervised-learning
        hint; text or other non-numeric data (naming the columns of a data frame)
        gets advice to encode it. Other errors pass unchanged.
        """
        name = type(self).__name__
        try:
            return validate_data(self, X, reset=reset, accept_sparse=["csr", "csc"], dtype=dtype)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            if message.startswith("Input X contains NaN"):
                raise ValueError(
                    f"Input X contains NaN. {name} does not accept missing values yet: "
                    "impute them first in a Pipeline, e.g. make_pipeline(SimpleImputer(), "
                    f"StandardScaler(), {name}())."
                ) from exc
            if not any(words in message.lower() for words in _CONVERSION_ERRORS):
                raise
            advice = (
                f"{name} needs numbers; encode categorical columns first, e.g. with "
                "OneHotEncoder in a ColumnTransformer: make_pipeline(make_column_transformer("
                "(OneHotEncoder(), categorical_columns), remainder=StandardScaler()), "
                f"{name}())."
            )
            columns = _non_numeric_columns(X)
            if columns:
                label = "Column {} of X is" if len(columns) == 1 else "Columns {} of X are"
                raise ValueError(
                    f"{label.format([str(c) for c in columns])} non-numeric: {advice}"
                ) from exc
            # Keep the exception's type: scikit-learn's checks expect a TypeError
            # for objects that are neither numbers nor strings.
            raise type(exc)(f"Input X contains non-numeric data ({message}): {advice}") from exc

    def _validate_input(self, X):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, dtype=[np.float64, np.float32])

    def transform(self, X):
        """Encode ``X`` into codes of width ``n_components``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode; processed in chunks so memory stays bounded.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, of the same float dtype as ``X`` (float64 for other input).
        """
        X = self._validate_input(X)
        if sp.issparse(X):
            X = X.tocsr()
        network = self._network()
        codes = np.empty((X.shape[0], self._n_features_out), dtype=X.dtype)
        for rows in self._chunks(X.shape[0]):
            codes[rows] = network.encode(X[rows])
        return codes

    def inverse_transform(self, X):
        """Decode codes back into feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructions, of the same float dtype as ``X``.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
        n_components = self._n_features_out
        if X.shape[1] != n_components:
            raise ValueError(
                f"X has {X.shape[1]} columns, but {type(self).__name__}.inverse_transform "
                f"expects codes of width n_components = {n_components}."
            )
        network = self._network()
        out = np.empty((X.shape[0], self.n_features_in_), dtype=X.dtype)
        for rows in self._chunks(X.shape[0]):
            out[rows] = network.decode(X[rows])
        return out

    def score_samples(self, X):
        """Negative reconstruction error of each sample; higher is better.

        Large errors (low scores) flag samples unlike the training data, which
        makes this an anomaly score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over features of the squared error (or of the binary
            cross-entropy, with that ``loss``) between each sample and its
            reconstruction.
        """
        X = self._validate_input(X)
        if sp.issparse(X):
            X = X.tocsr()
        network = self._network()
        scores = np.empty(X.shape[0], dtype=np.float64)
        for rows in self._chunks(X.shape[0]):
            chunk = X[rows]
            chunk = chunk.toarray() if sp.issparse(chunk) else chunk
            scores[rows] = network.sample_errors(chunk)
        np.negative(scores, out=scores)
        return scores

    def score(self, X, y=None, sample_weight=None):
        """Negative mean reconstruction error; higher is better.

        So :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_validate` need no ``scoring``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the mean.

        Returns
        -------
        score : float
            The (weighted) mean of :meth:`score_samples`.
        """
        scores = self.score_samples(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, scores, dtype=np.float64, ensure_non_negative=True
            )
        return weighted_mean(scores, sample_weight)
