"""The variational autoencoder: its model, its objective (the negative ELBO) and its bound.

Notation for one minibatch of ``b`` rows ``x_i`` with ``d`` features, codes of
``k`` dimensions, per-row weights ``w_i`` normalised to average 1 over the
training set (all 1 without sample weights) and ``c_i = w_i / b``.

Model
    The encoder network maps ``x`` to ``2k`` linear outputs: the posterior
    mean ``μ`` and a raw log-variance ``a``, clamped to
    ``s = clip(a, -30, 20)`` (:data:`LOG_VARIANCE_RANGE`; a clamp has zero
    gradient outside its range), so ``q(z|x) = N(μ, diag σ²)`` with
    ``σ = exp(s/2)``. The prior is ``p(z) = N(0, I)``. The decoder network maps
    a code ``z`` to ``d`` linear outputs ``R``. For ``squared_error`` the
    likelihood is Gaussian, ``p(x|z) = N(R, diag v)``, with a learned noise
    variance per feature ``v_j = v_min + exp(ρ_j)`` (``v_min`` is
    ``min_noise_variance``); for ``binary_crossentropy`` it is Bernoulli with
    logits ``R``. All parameters are one flat vector: the encoder's, the
    decoder's, then ``ρ``.

Objective (the minibatch negative ELBO, nats per sample)
    With ``z_i = μ_i + σ_i ⊙ ε_i``, ``ε_i ~ N(0, I)`` drawn afresh for every row
    of every minibatch (the reparameterisation)::

        J = Σ_i c_i (n_i + β KL_i) + α/2 ‖W‖²

    Reconstruction, Gaussian (``r_ij = R_ij - x_ij``, ``q_ij = r_ij² / v_j``)::

        n_i = ½ Σ_j (log 2π + log v_j + q_ij)
        ∂J/∂R_ij = c_i r_ij / v_j
        ∂J/∂ρ_j = ½ (exp(ρ_j) / v_j) Σ_i c_i (1 - q_ij)

    Reconstruction, Bernoulli (for data in [0, 1])::

        n_i = Σ_j softplus(R_ij) - x_ij R_ij
        ∂J/∂R_ij = c_i (expit(R_ij) - x_ij)

    KL divergence from the prior, in closed form::

        KL_i = ½ Σ_l (μ_il² + σ_il² - 1 - s_il)
        ∂(β KL_i)/∂μ = β μ_i            ∂(β KL_i)/∂s = ½ β (σ_i² - 1)

    Through the sample, with ``g_i = ∂J/∂z_i`` (the decoder's input gradient)::

        ∂J/∂μ_i = g_i + c_i β μ_i
        ∂J/∂s_i = ½ (g_i ⊙ ε_i ⊙ σ_i + c_i β (σ_i² - 1))
        ∂J/∂a_i = ∂J/∂s_i ⊙ 1[-30 ≤ a_i ≤ 20]

    L2 (``alpha``) on the weight matrices of both networks (not the biases,
    not ``ρ``): ``∂/∂W = α W``.

    ``β`` in the gradient is :attr:`VariationalObjective.kl_weight`, which a
    KL warm-up raises epoch by epoch; the value returned (what the loop
    records and its stopping rule watches) always weights the KL term by the
    target :attr:`VariationalObjective.beta`.

Missing entries
    With the 0/1 mask ``M`` of observed entries (missing inputs enter the
    encoder as 0), the likelihood is that of the observed entries only,
    ``n_i = Σ_j M_ij n_ij``, as in MIWAE (Mattei and Frellsen, 2019): the same
    formulas with every per-entry term and its gradient multiplied by ``M_ij``,
    so a row's bound is on ``log p(x_obs)``.

Bound on log p(x) (:meth:`VariationalObjective.log_likelihood_bound`)
    With ``K`` draws ``z_s = μ + σ ⊙ ε_s`` and the importance weights
    ``log u_s = log p(x|z_s) + log p(z_s) - log q(z_s|x) = -n(x, z_s) -
    ½ Σ_l (z_sl² - ε_sl² - s_l)``, the importance-weighted bound (Burda et
    al., 2016) ``log (1/K Σ_s u_s)`` is below ``log p(x)`` in expectation and
    grows with ``K``; ``K = 1`` is a one-draw estimate of the ELBO. When
    ``q(z|x)`` is the exact posterior every weight equals ``p(x)``, and the
    bound is exact for any ``K`` and any draws.

Evaluation draws (:func:`keyed_normals`) are a fixed function of each row's
values, of a seed and of the draw's index: a row gets the same draws whatever
the other rows, their order or the chunking, so scores are deterministic and
row by row.
"""

import math

import numpy as np
from scipy.special import expit, ndtri

from ._data import _mix64, row_keys
from ._model import Network
from ._params import Layout

#: The clamp of the encoder's log-variance head (natural log of a variance).
LOG_VARIANCE_RANGE = (-30.0, 20.0)

#: The reconstruction likelihood of each loss.
LIKELIHOODS = {"squared_error": "gaussian", "binary_crossentropy": "bernoulli"}

_LOG_2PI = math.log(2 * math.pi)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _n_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def row_hashes(X, seed):
    """A 64-bit hash per row of ``X`` (dense or CSR): a function of its values and ``seed``."""
    keys = (row_keys(X, seed) * 2.0**53).astype(np.uint64)
    return _mix64(keys, np.empty_like(keys))


def keyed_normals(hashes, draw, n_columns, dtype=np.float64):
    """Standard normal draws ``(len(hashes), n_columns)`` keyed by row hash and draw index.

    Entry ``(i, l)`` of draw ``t`` is ``Φ⁻¹(u)`` where ``u`` comes from the
    SplitMix64 finaliser of ``hashes[i] XOR mix64(golden · (t · n_columns + l + 1))``:
    independent of the other rows, reproducible, and different for every draw.
    """
    counters = (np.arange(n_columns, dtype=np.uint64) + np.uint64(draw * n_columns + 1)) * _GOLDEN
    salts = _mix64(counters, np.empty_like(counters))
    h = hashes[:, None] ^ salts[None, :]
    _mix64(h, np.empty_like(h))
    u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return ndtri(u).astype(dtype, copy=False)


class VariationalModel:
    """Encoder, decoder and noise variances of a VAE over one flat parameter vector.

    Parameters
    ----------
    n_features : int
    encoder_hidden, decoder_hidden : tuple of int
        Hidden-layer widths, from the input towards the code and from the code
        towards the output.
    n_components : int
        Dimension ``k`` of the codes.
    activation : str
        Key of ``ACTIVATIONS`` for the hidden layers.
    loss : {"squared_error", "binary_crossentropy"}
        Gaussian (with learned noise variances) or Bernoulli likelihood.
    min_noise_variance : float, default=1e-6
        ``v_min``, added to the Gaussian noise variances.
    dtype : numpy dtype, default=float64
    params : ndarray or None
        Flat parameters to use (not copied). Zeros when None.
    """

    def __init__(
        self, n_features, encoder_hidden, n_components, decoder_hidden, activation, loss, *,
        min_noise_variance=1e-6, dtype=np.float64, params=None,
    ):
        self.n_features, self.n_components = int(n_features), int(n_components)
        self.loss, self.likelihood = loss, LIKELIHOODS[loss]
        self.min_noise_variance = float(min_noise_variance)
        self.dtype = np.dtype(dtype)
        enc_sizes = (self.n_features, *encoder_hidden, 2 * self.n_components)
        dec_sizes = (self.n_components, *decoder_hidden, self.n_features)
        blocks = [("encoder", (_n_params(enc_sizes),)), ("decoder", (_n_params(dec_sizes),))]
        if self.likelihood == "gaussian":
            blocks.append(("log_noise_variance", (self.n_features,)))
        self.layout = Layout(blocks)
        if params is None:
            params = np.zeros(self.layout.size, dtype=self.dtype)
        elif params.shape != (self.layout.size,) or params.dtype != self.dtype:
            raise ValueError(
                f"params must have shape ({self.layout.size},) and dtype {self.dtype}, "
                f"got {params.shape} and {params.dtype}."
            )
        self.params = params
        self.grad = np.zeros_like(params)
        views, grads = self.layout.views(params), self.layout.views(self.grad)
        # Each network's last layer is its linear output layer.
        self.encoder = Network(
            enc_sizes, len(enc_sizes) - 1, activation, dtype=self.dtype,
            params=views["encoder"], grad=grads["encoder"],
        )
        self.decoder = Network(
            dec_sizes, len(dec_sizes) - 1, activation, dtype=self.dtype,
            params=views["decoder"], grad=grads["decoder"],
        )
        self.log_noise_variance = views.get("log_noise_variance")
        self.log_noise_variance_grad = grads.get("log_noise_variance")
        #: The weight matrices' shapes, both networks (what sets a fit's BLAS threads).
        self.shapes = self.encoder.shapes + self.decoder.shapes

    def initialize(self, rng, scheme="he"):
        """Draw both networks' weights (see :meth:`Network.initialize`); ``ρ = 0``."""
        self.encoder.initialize(rng, scheme)
        self.decoder.initialize(rng, scheme)
        if self.log_noise_variance is not None:
            self.log_noise_variance[...] = 0.0

    def noise_variance(self):
        """``v = v_min + exp(ρ)`` per feature (None for a Bernoulli likelihood)."""
        if self.log_noise_variance is None:
            return None
        return self.min_noise_variance + np.exp(self.log_noise_variance)

    # -- inference (allocates) --------------------------------------------------------------
    def posterior(self, X):
        """``(μ, s)`` of ``q(z|x)`` for dense or sparse rows ``X`` (``s`` clamped)."""
        out = self.encoder.raw_output(X)
        k = self.n_components
        return out[:, :k], np.clip(out[:, k:], *LOG_VARIANCE_RANGE)

    def decoder_mean(self, Z):
        """``E[x|z]``: ``R``, or ``expit(R)`` for a Bernoulli likelihood."""
        R = self.decoder.raw_output(Z)
        return expit(R, out=R) if self.likelihood == "bernoulli" else R

    def reconstruction_nll(self, R, X, observed=None):
        """``n(x, z) = -log p(x|z)`` per row, from the decoder's raw output ``R``.

        With ``observed`` (the 0/1 mask of observed entries; ``X`` is 0 elsewhere),
        ``-log p(x_obs|z)``: the observed entries' terms only.
        """
        if self.likelihood == "bernoulli":
            E = np.logaddexp(0, R) - X * R
            if observed is not None:
                E *= observed
            return E.sum(axis=1)
        v = self.noise_variance()
        D = R - X
        D *= D
        D *= 1.0 / v
        D += _LOG_2PI + np.log(v)
        if observed is not None:
            D *= observed
        return 0.5 * D.sum(axis=1)

    def sample_x(self, Z, rng):
        """Draws from ``p(x|z)`` for the codes ``Z`` (``rng``: a numpy Generator)."""
        R = self.decoder.raw_output(Z)
        if self.likelihood == "bernoulli":
            return (rng.random(R.shape) < expit(R)).astype(self.dtype)
        return R + rng.standard_normal(R.shape) * np.sqrt(self.noise_variance())


class _Buffers:
    """Preallocated arrays of one minibatch size."""

    def __init__(self, model, b):
        k, d, dtype = model.n_components, model.n_features, model.dtype
        self.enc = model.encoder.workspace(b)
        self.dec = model.decoder.workspace(b)
        self.z, self.s, self.sigma, self.eps, self.gz, self.tmp = (
            np.empty((b, k), dtype) for _ in range(6)
        )
        self.dec.bind_inputs(self.z)  # the codes are the decoder's minibatch
        self.inside = np.empty((b, k), dtype=bool)
        self.scale = np.empty(b, dtype)
        self.rows = np.empty(b, dtype)
        self.kl = np.empty(b, dtype)
        self.column = np.empty((b, 1), dtype)
        self.work = np.empty((b, d), dtype)
        self.observed = np.empty((b, d), dtype)
        self.features = np.empty(d, dtype)


class VariationalObjective:
    """Minibatch negative ELBO of a :class:`VariationalModel` and its gradient.

    Parameters
    ----------
    model : VariationalModel
        Also available as ``network``, the name the training loop uses.
    beta : float, default=1.0
        Target weight of the KL term.
    alpha : float, default=0.0
        L2 penalty on both networks' weight matrices.
    rng : numpy.random.Generator or None
        Draws the training noise ``ε``.
    eval_seed : int, default=0
        Seed of the keyed draws of :meth:`sample_errors` (the validation loss).
    """

    def __init__(self, model, *, beta=1.0, alpha=0.0, rng=None, eval_seed=0):
        self.network = model
        self.beta = float(beta)
        #: Weight of the KL term in the gradient (a KL warm-up lowers it).
        self.kl_weight = float(beta)
        self.alpha = float(alpha)
        self.rng = rng
        self.eval_seed = eval_seed
        self._buffers = {}

    #: The masked validation loss is per row (nats per sample), not per observed entry.
    per_variable = False

    def nonfinite(self):
        """Why the fitted state is not finite, or None: for the training loop's check.

        The weights may be finite while the noise variance ``exp(ρ)`` overflows
        (a step that takes ``ρ`` past about 709 in float64, 88 in float32).
        """
        params = self.network.params
        if not np.isfinite(params).all():
            return "weights became non-finite"
        rho = self.network.log_noise_variance
        if rho is not None and not (rho < np.log(np.finfo(rho.dtype).max)).all():
            return "noise variance exp(ρ) overflowed"
        return None

    def loss_gradient(self, inputs, targets, weights, mask=None):
        """Negative ELBO of one minibatch; fills ``network.grad`` (module docstring).

        ``mask`` is None, or nonzero exactly at the observed entries (the missing
        ones are 0 in ``inputs`` and ``targets``).
        """
        model = self.network
        encoder, decoder = model.encoder, model.decoder
        b, k = inputs.shape[0], model.n_components
        buf = self._buffers.get(b)
        if buf is None:
            buf = self._buffers[b] = _Buffers(model, b)
        s, sigma, eps, gz, tmp, scale = buf.s, buf.sigma, buf.eps, buf.gz, buf.tmp, buf.scale
        if weights is None:
            scale.fill(1.0 / b)
        else:
            np.multiply(weights, 1.0 / b, out=scale)

        # Encode, clamp, sample.
        buf.enc.bind_inputs(inputs)
        out = encoder.forward(buf.enc)
        mu, raw = out[:, :k], out[:, k:]
        np.clip(raw, *LOG_VARIANCE_RANGE, out=s)
        np.equal(raw, s, out=buf.inside)
        np.multiply(s, 0.5, out=sigma)
        np.exp(sigma, out=sigma)
        self.rng.standard_normal(out=eps, dtype=model.dtype)
        z = buf.z
        np.multiply(sigma, eps, out=z)
        z += mu

        # Reconstruction: leaves c_i ∂n_i/∂R in R.
        R = decoder.forward(buf.dec)
        observed = None
        if mask is not None:
            observed = np.not_equal(mask, 0, out=buf.observed, casting="unsafe")
        if model.likelihood == "gaussian":
            nll = self._gaussian(R, targets, buf, observed)
        else:
            nll = self._bernoulli(R, targets, buf, observed)

        # KL_i = ½ Σ (μ² + σ² - 1 - s), before μ's buffer takes its gradient.
        np.multiply(sigma, sigma, out=tmp)  # σ²
        kl_terms = np.multiply(mu, mu, out=gz)
        kl_terms += tmp
        kl_terms -= s
        kl_terms -= 1.0
        kl = np.sum(kl_terms, axis=1, out=buf.kl)
        kl *= 0.5
        value = float(np.dot(scale, nll)) + self.beta * float(np.dot(scale, kl))

        decoder.backward(buf.dec)
        decoder.input_gradient(buf.dec, gz)  # g = ∂J/∂z
        beta_c = np.multiply(scale[:, None], self.kl_weight, out=buf.column)
        # ∂J/∂s = ½ (g ε σ + c β (σ² - 1)), masked by the clamp, into the raw head.
        tmp -= 1.0
        tmp *= beta_c
        gs = out[:, k:]
        np.multiply(gz, eps, out=gs)
        gs *= sigma
        gs += tmp
        gs *= 0.5
        gs *= buf.inside
        # ∂J/∂μ = g + c β μ, into the mean head.
        mu *= beta_c
        mu += gz
        encoder.backward(buf.enc)

        if self.alpha:
            for network in (encoder, decoder):
                W = network.params[network.weight_slice]
                network.grad[network.weight_slice] += self.alpha * W
                value += 0.5 * self.alpha * float(np.dot(W, W))
        return value

    def _gaussian(self, R, T, buf, observed=None):
        """Per-row ``n_i``; ``R ← c_i r / v``; fills ``∂J/∂ρ`` (masked by ``observed``)."""
        model = self.network
        rho, work, scale = model.log_noise_variance, buf.work, buf.scale
        e = np.exp(rho, out=buf.features)
        v = e + model.min_noise_variance
        inv_v = 1.0 / v
        np.subtract(R, T, out=R)  # r
        np.multiply(R, R, out=work)
        work *= inv_v  # q
        grad_rho = model.log_noise_variance_grad
        log_terms = _LOG_2PI + np.log(v)
        if observed is None:
            nll = np.sum(work, axis=1, out=buf.rows)
            nll += float(log_terms.sum())
            np.matmul(scale, work, out=grad_rho)  # Σ c q
            np.subtract(float(scale.sum()), grad_rho, out=grad_rho)
        else:
            work *= observed
            R *= observed
            nll = np.sum(work, axis=1, out=buf.rows)
            nll += observed @ log_terms
            np.matmul(scale, work, out=grad_rho)  # Σ c M q
            np.subtract(scale @ observed, grad_rho, out=grad_rho)  # Σ c M (1 - q)
        nll *= 0.5
        grad_rho *= e
        grad_rho *= inv_v
        grad_rho *= 0.5
        R *= inv_v
        R *= scale[:, None]
        return nll

    def _bernoulli(self, R, T, buf, observed=None):
        """Per-row ``n_i``; ``R ← c_i (expit(R) - x)`` (masked by ``observed``)."""
        work = buf.work
        np.logaddexp(0, R, out=work)
        work -= T * R
        if observed is not None:
            work *= observed
        nll = np.sum(work, axis=1, out=buf.rows)
        expit(R, out=R)
        R -= T
        R *= buf.scale[:, None]
        if observed is not None:
            R *= observed
        return nll

    # -- evaluation (allocates) ---------------------------------------------------------------
    def elbo_terms(self, X, eps, observed=None):
        """Per-row ``(n_i, KL_i)`` of dense ``X`` with the draws ``eps`` (``(n, k)``).

        ``observed``: None, or the mask of observed entries (``X`` 0 elsewhere).
        """
        model = self.network
        mu, s = model.posterior(X)
        z = mu + np.exp(0.5 * s) * eps
        nll = model.reconstruction_nll(model.decoder.raw_output(z), X, observed)
        kl = 0.5 * (mu * mu + np.exp(s) - 1.0 - s).sum(axis=1)
        return nll, kl

    def sample_errors(self, X, targets=None):
        """Per-row negative ELBO ``n_i + β KL_i`` of dense ``X``, with keyed draws.

        The draws depend on the rows and ``eval_seed`` only, so the validation
        loss of a fit compares epochs on the same noise. ``targets`` is ignored
        (no corruption).
        """
        return self.observed_errors(X, X, None)

    def observed_errors(self, inputs, targets, observed):
        """Per-row negative ELBO of the observed entries, ``n_i(x_obs) + β KL_i``.

        ``inputs`` and ``targets`` are the same rows, missing entries 0, and
        ``observed`` their mask (None: all observed); keyed draws as in
        :meth:`sample_errors`.
        """
        eps = keyed_normals(row_hashes(targets, self.eval_seed), 0, self.network.n_components)
        nll, kl = self.elbo_terms(targets, eps.astype(targets.dtype, copy=False), observed)
        return nll + self.beta * kl

    def log_likelihood_bound(self, X, n_samples, seed, observed=None):
        """Importance-weighted lower bound on ``log p(x)`` per row of dense ``X`` (nats).

        ``n_samples`` draws per row, keyed by the row's values and ``seed``;
        ``n_samples = 1`` gives a one-draw estimate of the ELBO. With
        ``observed`` (the mask of observed entries, ``X`` 0 elsewhere), the
        bound on ``log p(x_obs)``.
        """
        model = self.network
        hashes = row_hashes(X, seed)
        k = model.n_components
        mu, s = model.posterior(X)
        sigma = np.exp(0.5 * s)
        total = np.full(X.shape[0], -np.inf)
        for draw in range(n_samples):
            eps = keyed_normals(hashes, draw, k, X.dtype)
            z = mu + sigma * eps
            log_u = -model.reconstruction_nll(model.decoder.raw_output(z), X, observed)
            log_u -= 0.5 * (z * z - eps * eps - s).sum(axis=1)
            np.logaddexp(total, log_u, out=total)
        return total - math.log(n_samples)
