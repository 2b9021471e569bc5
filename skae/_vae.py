"""The variational autoencoder estimator: the family's fit flow with a probabilistic model.

The maths (model, negative ELBO and its gradient, the importance-weighted bound)
lives in :mod:`skae._variational`; this module is the scikit-learn adapter.
"""

import hashlib
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted

from ._activations import ACTIVATIONS
from ._callbacks import CallbackSupportMixin, fit_task, validated_partial_fit
from ._estimator import (
    _CODES_ADVICE,
    _BaseAutoencoder,
    _check_codes,
    _column_root_mean_squares,
    _constant_features,
    _FitTransformMixin,
    _layer_tuple,
    _outside_stacklevel,
    _refuse_overflow,
    _score_weights,
)
from ._objectives import weighted_mean
from ._optim import SCHEDULES
from ._variational import LIKELIHOODS, VariationalModel, VariationalObjective

#: A fresh fit of the Gaussian likelihood warns of features whose root mean square over
#: the training rows is above this. The noise variances start at 1 and the output biases
#: near 0, and an Adam step moves each by about ``learning_rate_init`` (log-variance,
#: data units). Nats above PCA(2) (docs/vae.rst): standardized breast cancer +11; scaled
#: by 2 / 3 / 5: +7.4 / -1.7 / -96 (the last silently); shifted by 3 / 5 / 10: +8.7 /
#: -0.6 / -27. Standardized wine +3.7; scaled by 3: +0.5, by 5: -22. Smaller scales cost
#: less (wine scaled by 0.1: -2.3).
UNIT_SCALE_LIMIT = 3.0

#: Fitted attributes that are views into ``_params`` and rebuilt after unpickling.
_VIEW_ATTRIBUTES = ("encoder_coefs_", "encoder_intercepts_", "decoder_coefs_",
                    "decoder_intercepts_")


def _params_seed(params):
    """A seed that is a fixed function of the parameters' bytes (for the scoring draws)."""
    digest = hashlib.blake2b(np.ascontiguousarray(params).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class VariationalAutoencoder(
    CallbackSupportMixin,
    ClassNamePrefixFeaturesOutMixin,
    _FitTransformMixin,
    TransformerMixin,
    _BaseAutoencoder,
):
    """Variational autoencoder: a nonlinear probabilistic model with a likelihood in nats.

    A probabilistic counterpart of :class:`~sklearn.decomposition.PCA` (whose
    ``score`` is probabilistic PCA's log-likelihood) and of
    :class:`AutoencoderTransformer`. Each sample ``x`` is modelled as generated
    from a code ``z ~ N(0, I)`` of ``n_components`` values through a decoder
    network; an encoder network gives the approximate posterior
    ``q(z|x) = N(μ(x), diag σ²(x))``. Both are trained together by minibatch
    Adam on the negative evidence lower bound (ELBO). :meth:`transform`
    returns the posterior mean ``μ(x)`` (deterministic), :meth:`inverse_transform`
    the decoder's mean, :meth:`sample` new data, and :meth:`score_samples` a
    lower bound on ``log p(x)`` in nats, comparable with
    :meth:`PCA.score_samples <sklearn.decomposition.PCA.score_samples>`.
    Scale the inputs first (e.g. with :class:`~sklearn.preprocessing.StandardScaler`):
    the noise variances start at 1 and the output biases near 0, and training
    moves them little per step, so features of a larger scale can end far from
    their likelihood (standardized breast cancer scores 11 nats above PCA's
    two components; scaled by 5, 96 below, with no ``ConvergenceWarning``). A
    fresh fit of ``loss="squared_error"`` warns of features whose root mean
    square over the training rows is above 3.

    Missing values (NaN) are allowed in every method that takes data (not in
    the codes given to :meth:`inverse_transform`): the likelihood is that of
    each row's observed entries, missing inputs enter the encoder as 0 (the
    mean, after standardizing), and :meth:`score_samples` bounds
    ``log p(x_obs)`` (see :doc:`/missing`).

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the codes ``z``.

    hidden_layer_sizes : array-like of int or int, default=(128, 64)
        Widths of the encoder's hidden layers, from the input towards the code.
        ``()`` makes ``μ`` and ``log σ²`` linear in ``x``.

    decoder_layer_sizes : array-like of int, int or None, default=None
        Widths of the decoder's hidden layers, from the code towards the output.
        None mirrors the encoder; ``()`` gives a linear decoder (with
        ``loss="squared_error"``, a linear-Gaussian model like probabilistic PCA,
        with one noise variance per feature).

    activation : {"relu", "leaky_relu", "elu", "softplus", "tanh", "logistic", \
"identity"}, default="relu"
        Activation of the hidden layers. The output layers of both networks
        are linear.

    loss : {"squared_error", "binary_crossentropy"}, default="squared_error"
        The decoder's likelihood. ``"squared_error"``: Gaussian, with mean the
        decoder's output and a learned noise variance per feature
        (``noise_variance_``), so that the bound is a log-density in nats.
        ``"binary_crossentropy"``: Bernoulli with the decoder's outputs as
        logits, for data in [0, 1] (fitting on anything else warns); for
        binary data the bound is a log-probability.

    beta : float, default=1.0
        Weight of the KL term of the objective (a β-VAE for ``beta != 1``).
        Larger values pull the codes' distribution towards ``N(0, I)`` at some
        cost in reconstruction; ``beta=1`` makes the objective the ELBO proper.

    kl_warmup : int, default=0
        Number of epochs of a linear KL warm-up: in epoch ``t`` (counted over
        all fits of a ``warm_start`` or ``partial_fit`` sequence) the gradient
        weights the KL term by ``beta · min(1, t / kl_warmup)``. 0 disables it.

    alpha : float, default=1e-4
        L2 penalty: ``alpha / 2`` times the squared norm of both networks'
        weight matrices is added to the objective (in nats per sample; biases
        and noise variances are not penalised).

    min_noise_variance : float, default=1e-6
        Lower bound added to the learned noise variances
        (``noise_variance_ = min_noise_variance + exp(ρ)``), so that a feature
        the decoder can predict exactly (a constant one, say) keeps a finite
        likelihood; in the units of the (scaled) data squared. Only used when
        ``loss="squared_error"``. A constant feature's likelihood rises while
        its noise variance shrinks towards this floor, on a few hundred rows
        for longer than ``max_iter``: the ``ConvergenceWarning`` of such a fit
        names the features constant over its rows; drop them (e.g. with
        :class:`~sklearn.feature_selection.VarianceThreshold`) or raise this.

    n_importance_samples : int, default=10
        Number of posterior samples per row of the importance-weighted bound
        of :meth:`score_samples` and :meth:`score`: 1 estimates the ELBO; more
        give a tighter bound on ``log p(x)``, at the cost of one decoder pass
        each.

    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` as in :class:`AutoencoderTransformer`.

    learning_rate : {"constant", "adaptive", "cosine"}, default="adaptive"
        Learning-rate schedule, as in :class:`AutoencoderTransformer`:
        ``"adaptive"`` divides the rate by 5 at each plateau of the monitored
        loss and stops below ``learning_rate_init / 1000`` (or at
        ``max_iter``), ``"constant"`` stops at the first plateau,
        ``"cosine"`` decays it along half a cosine over ``max_iter`` epochs.
        :meth:`partial_fit` uses ``learning_rate_init``.

    learning_rate_init : float, default=2e-3
        Adam's (initial) step size.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the training data). The
        stopping rule ends most fits long before it, at the plateau of the
        monitored loss (the validation ELBO with rows held out, else the
        training loss) that would take the learning rate below its floor.

    shuffle : bool, default=True
        Whether to shuffle the training data at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, the validation split and
        the training noise ``ε``, each from its own stream. An int gives
        bitwise-identical results across calls; None draws the seed from
        NumPy's global random state. See :term:`Glossary <random_state>`.

    tol : float, default=1e-4
        Tolerance of a plateau: the monitored loss (validation loss with
        ``early_stopping``, else training loss; negative ELBO in nats per
        sample) has not improved on its best by at least ``tol · d / 2`` for
        ``n_iter_no_change`` consecutive epochs, ``d`` the number of observed
        features per sample (on average): the change a relative change ``tol``
        of every feature's error variance makes, whatever the data's units
        (with ``loss="binary_crossentropy"``, ``tol`` times the best's
        magnitude, or ``tol`` itself where every column of ``X`` is constant, as
        for :class:`AutoencoderTransformer`). What a plateau does depends on
        ``learning_rate``.

    verbose : bool, default=False
        Print one line per epoch: training loss, validation loss, time.

    warm_start : bool, default=False
        When True, :meth:`fit` continues from the previous weights and optimizer
        state. The model (layer sizes, activation, loss, ``min_noise_variance``)
        must not change. The optimizer state kept is the last epoch's, also
        where early stopping restored an earlier epoch's weights.

    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the samples and monitor their mean
        negative ELBO (KL weighted by ``beta``, with posterior draws fixed for the
        whole fit, and kept by a ``warm_start`` fit that continues it, also
        across :meth:`partial_fit` calls in between, so that its losses compare
        with the earlier ones) to decide when to stop, and
        restore the weights of the best validation epoch. ``"auto"`` does so
        for data of at least 200 distinct samples of positive weight with an
        observed entry, and trains on all the samples of other data (identical
        rows stay together on one side): a VAE overfits a few hundred rows
        quickly (its noise variances shrink on the training rows), and the
        held-out likelihood of the weights trained longest is then far below
        that of the best validation epoch. A mean validation ELBO
        that a few rows dominate can stop training too early, though (digits, see
        :doc:`/vae`). Not used by :meth:`partial_fit`.

    validation_fraction : float, default=0.1
        Share of the (sample-weighted) training data held out for validation.
        Only used when rows are held out (``early_stopping``).

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Adam's numerical-stability term.

    n_iter_no_change : int, default=20
        Number of epochs without improvement by ``tol`` that make a plateau.

    Attributes
    ----------
    encoder_coefs_ : list of ndarray
        Weight matrices of the encoder, ``(n_inputs, n_outputs)`` per layer; the
        last has ``2 * n_components`` outputs, ``μ`` then the raw ``log σ²``.
        Views into one flat parameter vector.

    encoder_intercepts_ : list of ndarray
        Bias vectors of the encoder.

    decoder_coefs_ : list of ndarray
        Weight matrices of the decoder, from the codes to the features.

    decoder_intercepts_ : list of ndarray
        Bias vectors of the decoder.

    noise_variance_ : ndarray of shape (n_features,) or None
        The Gaussian likelihood's variance of each feature, in the units of
        the data squared; None for ``loss="binary_crossentropy"``. Read-only:
        derived from the parameters, unlike the weights it is not a view into
        them.

    n_iter_ : int
        Number of passes over training data (as in :class:`AutoencoderTransformer`).

    t_ : int
        Number of training samples seen; rows of zero sample weight are not seen.

    loss_ : float
        Training objective of the last epoch: the mean negative ELBO (KL
        weighted by ``beta``) plus the L2 penalty, in nats per sample.

    loss_curve_ : list of float
        Training objective of every epoch. During a KL warm-up it is still the
        objective with weight ``beta``, the one being approached; only the
        gradient weights the KL term less.

    best_loss_ : float
        Smallest entry of ``loss_curve_``.

    validation_loss_curve_ : list of float or None
        Mean negative ELBO of the validation samples after every epoch; None
        if no fit used ``early_stopping``.

    best_validation_loss_ : float or None
        Validation loss of the weights kept by the last fit with
        ``early_stopping``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    AutoencoderTransformer : The deterministic autoencoder.
    sklearn.decomposition.PCA : Its ``score`` is probabilistic PCA's exact
        log-likelihood, the linear baseline of this model.
    sklearn.decomposition.FactorAnalysis : The linear-Gaussian model with one
        noise variance per feature.

    Notes
    -----
    The encoder is ``n_features → hidden_layer_sizes → 2·n_components``: the
    posterior mean ``μ`` and a log-variance ``s``, clamped to [-30, 20] so that
    ``σ² = exp(s)`` stays finite (the clamp passes no gradient outside that
    range). The decoder is ``n_components → decoder_layer_sizes → n_features``.
    With ``z = μ + σ ⊙ ε`` and ``ε ~ N(0, I)`` drawn afresh for every row of
    every minibatch (the reparameterisation trick), the per-sample objective is,
    in nats, ``n(x, z) + β · KL(q(z|x) ‖ N(0, I))`` with
    ``KL = ½ Σ_l (μ_l² + σ_l² - 1 - log σ_l²)``,
    where the reconstruction term ``n = -log p(x|z)`` is summed over features:
    ``½ Σ_j (log 2π + log v_j + (x_j - R_j)² / v_j)`` for the Gaussian decoder
    (output ``R``, noise variances ``v``), ``Σ_j softplus(R_j) - x_j R_j`` for
    the Bernoulli one. Summing, not averaging, over features keeps ``beta``'s
    meaning independent of the number of features. The training objective is
    the sample-weighted minibatch mean of this plus ``alpha/2 ‖W‖²``; the
    gradients of every term are in :mod:`skae._variational`.

    :meth:`score_samples` returns the importance-weighted bound ``log (1/K
    Σ_s p(x, z_s) / q(z_s|x))`` with ``K = n_importance_samples`` draws
    ``z_s ~ q(z|x)`` (Burda et al.), a lower bound on ``log p(x)`` in
    expectation that tightens as ``K`` grows (``K = 1``: a one-draw estimate
    of the ELBO). Its draws are a fixed function of each row's values and
    of the fitted parameters: a fitted model scores a row the same way on every
    call, whatever the other rows or their order (up to the last bits of
    floating-point rounding, which depends on the batch's size), and an int
    ``random_state`` reproduces the scores with the model. A change of a row's
    values, even in the last bit, gives it other draws: its score moves within
    the bound's Monte-Carlo spread (see the user guide; more draws shrink it);
    so does a change of the parameters in their last bits (sample weights
    scaled, another BLAS): scores reproduce with the model, not across models
    that differ by rounding. As for PCA's score, the density is that of the
    data as given to this estimator: after a scaler, of the scaled data.

    Training never hides a NaN: a non-finite loss or weights stop the fit
    with a clear error and leave the estimator as it was.

    References
    ----------
    .. [1] D. P. Kingma and M. Welling, "Auto-encoding variational Bayes",
       ICLR 2014. :arxiv:`1312.6114`.
    .. [2] I. Higgins et al., "β-VAE: learning basic visual concepts with a
       constrained variational framework", ICLR 2017.
    .. [3] Y. Burda, R. Grosse and R. Salakhutdinov, "Importance weighted
       autoencoders", ICLR 2016. :arxiv:`1509.00519`.
    .. [4] M. E. Tipping and C. M. Bishop, "Probabilistic principal component
       analysis", J. R. Statist. Soc. B 61 (3), 611-622, 1999.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import VariationalAutoencoder
    >>> X, _ = load_digits(return_X_y=True)
    >>> X_train, X_test = train_test_split(X, random_state=0)
    >>> vae = make_pipeline(StandardScaler(), VariationalAutoencoder(
    ...     n_components=8, random_state=0)).fit(X_train)
    >>> vae.transform(X_test).shape
    (450, 8)
    >>> vae[-1].sample(3, random_state=0).shape
    (3, 64)
    >>> pca = make_pipeline(StandardScaler(), PCA(n_components=8)).fit(X_train)
    >>> bool(vae.score(X_test) > pca.score(X_test))  # nats per digit, scaled pixels
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "decoder_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "loss": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "min_noise_variance": [Interval(Real, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean", StrOptions({"auto"})],
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
        beta=1.0,
        kl_warmup=0,
        alpha=1e-4,
        min_noise_variance=1e-6,
        n_importance_samples=10,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=2e-3,
        max_iter=1000,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        early_stopping="auto",
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
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.alpha = alpha
        self.min_noise_variance = min_noise_variance
        self.n_importance_samples = n_importance_samples
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

    # -- the hooks of the fit flow ----------------------------------------------------------
    def _spec(self, n_features):
        encoder = _layer_tuple(self.hidden_layer_sizes, "hidden_layer_sizes")
        if self.decoder_layer_sizes is None:
            decoder = encoder[::-1]
        else:
            decoder = _layer_tuple(self.decoder_layer_sizes, "decoder_layer_sizes")
        return {
            "layer_sizes": (n_features, *encoder, self.n_components, *decoder, n_features),
            "n_encoder_layers": len(encoder) + 1,
            "activation": self.activation,
            "loss": self.loss,
            "min_noise_variance": float(self.min_noise_variance),
        }

    def _build_model(self, spec, dtype, params=None):
        sizes, n_enc = spec["layer_sizes"], spec["n_encoder_layers"]
        return VariationalModel(
            sizes[0],
            sizes[1:n_enc],
            sizes[n_enc],
            sizes[n_enc + 1 : -1],
            spec["activation"],
            spec["loss"],
            min_noise_variance=spec["min_noise_variance"],
            dtype=dtype,
            params=params,
        )

    def _build_objective(self, model, streams, n_train, alpha_scale=1.0, continuing=False):
        # The validation draws: fixed for the whole fit, so epochs compare alike, and
        # kept by a warm start or partial_fit that continues it (drawn anyway, so that
        # the streams stay as they were): later validation losses compare with the
        # earlier ones. A model pickled before has none to keep.
        eval_seed = int(streams["split"].integers(2**63))
        previous = getattr(self, "_eval_seed", None) if continuing else None
        if previous is not None:
            eval_seed = previous
        return VariationalObjective(
            model,
            beta=self.beta,
            alpha=self.alpha,
            rng=streams["noise"],
            eval_seed=eval_seed,
        )

    def _objective_attributes(self, objective):
        return {"_eval_seed": objective.eval_seed}

    def _plateau_scale(self, observed_per_row):
        # The Gaussian likelihood's nats have no zero of their own: scaling the data by
        # c shifts them by log c per entry. An improvement of tol / 2 nats per observed
        # entry is what a relative change tol of every feature's error variance gives,
        # the transformer's relative tolerance on the squared error, in any units.
        if self.loss == "squared_error":
            return 0.5 * observed_per_row()
        return None

    def _warn_of_unscaled_features(self, X, train_rows, sample_weight, missing):
        # The cross-entropy warns of data off [0, 1] instead (_warn_about_range).
        if self.loss != "squared_error":
            return
        rms = _column_root_mean_squares(X, train_rows, sample_weight, missing)
        (far,) = np.nonzero(rms > UNIT_SCALE_LIMIT)  # NaN (never observed) is not
        if far.size == 0:
            return
        warnings.warn(
            f"Feature(s) {self._feature_list(far)} are far from unit scale (root mean "
            f"square up to {rms[far].max():.3g} over the training rows, above "
            f"{UNIT_SCALE_LIMIT:g}). The noise variances start at 1 and the output biases "
            "near 0, and each training step moves them little, so the fit can end far "
            "from the likelihood it would reach on standardized data, often without a "
            "ConvergenceWarning. Standardize the features first, e.g. "
            "make_pipeline(StandardScaler(), VariationalAutoencoder()) (the "
            "standardized data's log-likelihood is the original's plus the sum of the "
            "log scales).",
            UserWarning,
            stacklevel=_outside_stacklevel(),
        )

    def _unconverged_advice(self, X, rows, sample_weight, missing):
        # The decoder reproduces a constant feature exactly, and its likelihood rises
        # for as long as its noise variance shrinks, down to min_noise_variance: on a
        # few hundred rows that walk outlasts max_iter. Name such features.
        if self.loss != "squared_error":
            return ""
        (found,) = np.nonzero(_constant_features(X, rows, sample_weight, missing))
        if found.size == 0:
            return ""
        return (
            f" Constant feature(s): {self._feature_list(found)}. The likelihood of a "
            "constant feature keeps rising while its noise variance shrinks towards "
            "min_noise_variance="
            f"{self._min_noise_variance:g}: drop such features (e.g. with "
            "sklearn.feature_selection.VarianceThreshold in the pipeline) or raise "
            "min_noise_variance."
        )

    def _training_monitors(self, context):
        if not self.kl_warmup:
            return []
        objective, beta, warmup = context.objective, float(self.beta), int(self.kl_warmup)

        def kl_weight(epoch):
            return beta * min(1.0, epoch / warmup)

        objective.kl_weight = kl_weight(context.n_iter + 1)

        def warm_up(epoch, loss, validation_loss, seconds):
            objective.kl_weight = kl_weight(epoch + 1)
            return False

        return [warm_up]

    def _model_attributes(self, spec, params):
        model = self._build_model(spec, params.dtype, params)
        attributes = {f"_{key}": value for key, value in spec.items()}
        attributes.update(_params=params, _score_seed=_params_seed(params))
        attributes.update(self._views(model))
        return attributes

    @staticmethod
    def _views(model):
        noise_variance = model.noise_variance()
        if noise_variance is not None:
            # Derived from the parameters (min_noise_variance + exp(ρ)), not a view of
            # them: read-only, so that an edit raises instead of changing nothing.
            noise_variance.setflags(write=False)
        return {
            "encoder_coefs_": model.encoder.coefs,
            "encoder_intercepts_": model.encoder.intercepts,
            "decoder_coefs_": model.decoder.coefs,
            "decoder_intercepts_": model.decoder.intercepts,
            "noise_variance_": noise_variance,
        }

    def _restore_views(self):
        self.__dict__.update(self._views(self._model()))

    def __getstate__(self):
        state = super().__getstate__()
        for name in _VIEW_ATTRIBUTES:
            state.pop(name, None)
        return state

    def _model(self):
        spec = {
            key: getattr(self, f"_{key}")
            for key in ("layer_sizes", "n_encoder_layers", "activation", "loss",
                        "min_noise_variance")
        }
        return self._build_model(spec, self._params.dtype, self._params)

    @property
    def _n_features_out(self):
        """Number of output features of :meth:`transform`."""
        return self._layer_sizes[self._n_encoder_layers]

    # -- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational autoencoder to ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse CSR/CSC input is densified one minibatch at a
            time. float32 input is trained in float32.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the objective. A weight of
            ``k`` scales the row's term; it is not ``k`` copies of the row,
            which would each draw their own codes from the posterior (the same
            in expectation, not draw for draw): scikit-learn's exact checks of
            that equivalence (``check_sample_weight_equivalence_on_dense_data``
            and ``_on_sparse_data``) fail for this estimator, as expected.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, sample_weight, incremental=False)

    @validated_partial_fit
    @_fit_context(prefer_skip_nested_validation=True)
    @fit_task
    def partial_fit(self, X, y=None, sample_weight=None):
        """Run one epoch of training on ``X``, continuing from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the objective, relative
            within the call: they are scaled to a mean of 1 over its rows, as
            in :meth:`fit`, so that scaling a call's weights changes the
            training only by rounding (the scores, whose draws follow the
            parameters' exact values, move within their Monte-Carlo spread:
            see the Notes).
            To weight a chunk against the others, repeat its rows or pass it
            in more calls.

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._fit(X, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = True
        return tags

    # -- inference --------------------------------------------------------------------------
    def transform(self, X):
        """The posterior mean ``μ(x)`` of each sample's code (deterministic).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode; processed in chunks so memory stays bounded.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The posterior means, of the same float dtype as ``X``.
        """
        X = self._validate_input(X)
        model = self._model()
        missing = self._inference_missing(X)
        codes = np.empty((X.shape[0], self._n_features_out), dtype=X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # what overflows is refused below
            for rows in self._chunks(X.shape[0]):
                inputs = X[rows] if missing is None else self._filled_chunk(X, rows, missing)[0]
                codes[rows] = model.posterior(inputs)[0]
        _refuse_overflow(self, codes, "codes")
        return codes

    def inverse_transform(self, X):
        """The decoder's mean ``E[x|z]`` for codes ``z``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            The decoder's means (probabilities for ``loss="binary_crossentropy"``),
            of the same float dtype as ``X``.
        """
        check_is_fitted(self)
        X = _check_codes(self, X)
        model = self._model()
        out = np.empty((X.shape[0], self.n_features_in_), dtype=X.dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # what overflows is refused below
            for rows in self._chunks(X.shape[0]):
                # In the codes' precision, or the model's if higher (as transform does).
                out[rows] = model.decoder_mean(X[rows])
        _refuse_overflow(self, out, "reconstructions", advice=_CODES_ADVICE)
        return out

    def sample(self, n_samples=1, random_state=None, *, decoder_mean=False):
        """Generate new samples: codes from the prior ``N(0, I)`` through the decoder.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        random_state : int, RandomState instance, numpy Generator or None, default=None
            Draws the codes (and the noise). None draws from NumPy's global
            random state (as scikit-learn does: ``np.random.seed`` makes the
            samples reproducible); an int gives the same samples on every call.

        decoder_mean : bool, default=False
            Return the decoder's mean ``E[x|z]`` instead of a draw from
            ``p(x|z)`` (which adds the Gaussian noise of ``noise_variance_``,
            or draws 0/1 values for ``loss="binary_crossentropy"``).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            The samples, in the dtype the model was fitted in.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if random_state is None or isinstance(random_state, np.random.RandomState):
            # None: NumPy's global RandomState, consumed (scikit-learn's convention).
            random_state = check_random_state(random_state)
            rng = np.random.default_rng(random_state.randint(0, 2**32, size=4, dtype=np.int64))
        else:
            try:
                rng = np.random.default_rng(random_state)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    "random_state must be None, a non-negative int, a "
                    "numpy.random.RandomState or a numpy.random.Generator, got "
                    f"{random_state!r}."
                ) from exc
        model = self._model()
        Z = rng.standard_normal((int(n_samples), self._n_features_out)).astype(model.dtype)
        if decoder_mean:
            return model.decoder_mean(Z)
        return model.sample_x(Z, rng).astype(model.dtype, copy=False)

    def score_samples(self, X):
        """A lower bound on each sample's log-likelihood ``log p(x)``, in nats.

        The importance-weighted bound with ``n_importance_samples`` posterior
        draws per sample (the ELBO for 1); deterministic (see the Notes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            The bound per sample (float64): higher is more likely. Low values
            flag samples unlike the training data, which makes it an anomaly
            score. A sample with no observed entry scores 0 (``log p() = 0``),
            one whose likelihood overflows (finite but huge values) ``-inf``.
        """
        X = self._validate_input(X)
        # Read here, not in fit (set_params after fitting changes the bound): checked here.
        validate_parameter_constraints(
            {"n_importance_samples": self._parameter_constraints["n_importance_samples"]},
            {"n_importance_samples": self.n_importance_samples},
            caller_name=f"{type(self).__name__}.score_samples",
        )
        model = self._model()
        # The seed of these parameters: read from them, not from the estimator, which
        # another thread's fit may have moved on since.
        seed = _params_seed(model.params)
        objective = VariationalObjective(model)
        missing = self._inference_missing(X)
        scores = np.empty(X.shape[0], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow scores -inf, below
            for rows in self._chunks(X.shape[0]):
                if missing is None:
                    chunk, observed = X[rows], None
                    chunk = chunk.toarray() if sp.issparse(chunk) else chunk
                else:
                    _, chunk, observed = self._filled_chunk(X, rows, missing)
                scores[rows] = objective.log_likelihood_bound(
                    chunk, self.n_importance_samples, seed, observed
                )
                if observed is not None:  # nothing observed: log p() = 0, no estimate
                    scores[rows][missing.row_counts(observed) == 0] = 0.0
        # X is finite: only a likelihood that overflowed gives NaN, or +inf (the
        # Bernoulli likelihood of data off [0, 1] is unbounded).
        scores[np.isnan(scores) | np.isposinf(scores)] = -np.inf
        return scores

    def score(self, X, y=None, sample_weight=None):
        """Mean lower bound on the log-likelihood, in nats per sample; higher is better.

        In the units of :meth:`PCA.score <sklearn.decomposition.PCA.score>`, so
        the two compare directly; :class:`~sklearn.model_selection.GridSearchCV`
        needs no ``scoring``.

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
        return weighted_mean(scores, _score_weights(sample_weight, scores))
