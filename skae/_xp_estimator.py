"""The estimators' Array API path: fit, inference and fitted state off NumPy.

:class:`ArrayAPIMixin` gives :class:`~skae._estimator._BaseAutoencoder` what it
needs when scikit-learn's dispatch is on and the input is a PyTorch tensor, a
CuPy array or another non-NumPy Array API array (:mod:`skae._xp` decides). The
fit follows the NumPy engine's step by step: the same validation, the same
random streams drawn on the host (initialisation, epoch order, validation
split), the same policies of the loop, the same fitted attributes, which then
live in the input's namespace and on its device.
"""

import copy
import functools
from types import SimpleNamespace

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from . import _xp, _xp_engine
from ._data import feature_bounds, feature_range, split_record, validation_split
from ._guide import warmup_steps
from ._objectives import unit_scaled
from ._optim import Schedule
from ._training import CONSTANT_TARGETS_SCALE, TrainingResult, print_epoch
from ._xp_engine import (
    ArrayAdam,
    ArrayBatches,
    ArrayCorruption,
    ArrayNetwork,
    ArrayObjective,
    auto_alpha_scale,
    constant_columns,
    loss_floor,
    train,
)
from ._xp_engine import validation_loss as _validation_loss


def _refuse_sparse_tensor(X):
    """Inference takes dense arrays of the model's namespace, not sparse tensors."""
    if _xp.is_sparse_tensor(X):
        raise TypeError(
            "Sparse input stays on the CPU: pass a scipy.sparse matrix to a model "
            "fitted on NumPy data, or a dense array of the model's namespace."
        )


#: Rows per chunk of transform, inverse_transform and score_samples on a device.
_CHUNK_ROWS = 65536



def _refuse_missing(X, xp, fitted=False):
    """Missing values are the NumPy engine's: raise on a NaN in an Array API array.

    ``fitted``: for inference with a model fitted on the Array API path, which
    must move to NumPy too.
    """
    if bool(xp.any(xp.isnan(X))):
        numpy = (
            "move the model to NumPy (sklearn.utils._array_api.move_estimator_to(model, "
            "numpy, 'cpu')) and pass NumPy arrays"
            if fitted
            else "pass a NumPy array"
        )
        raise ValueError(
            f"X contains NaN. Missing values are handled by the NumPy engine only: {numpy} "
            "(for a PyTorch tensor: X.cpu().numpy()), or impute them first."
        )

class ArrayAPIMixin:
    """The Array API path of the autoencoder estimators (see the module docstring)."""

    # -- what the path supports ----------------------------------------------------------
    def _array_api_problem(self, fitted=False):
        """Why this configuration cannot run on the Array API path, or None.

        The path is opt-in per class (``_array_api_path = True`` in the class body,
        not inherited), so that an estimator added to the family stays on NumPy
        until its model runs on the device. ``fitted``: for inference with the
        fitted model, where what it was fitted with counts and training-only
        options (``contraction``) do not.
        """
        if not vars(type(self)).get("_array_api_path", False):
            return (
                f"{type(self).__name__} does not run on Array API inputs yet: pass a NumPy "
                "array (for a PyTorch tensor: X.cpu().numpy()), or turn "
                "array_api_dispatch off."
            )
        if fitted:
            if getattr(self, "_categorical_groups", ()) or getattr(self, "_mask_as_input", False):
                on_numpy = _xp.array_namespace(self._params)[0] is None
                return (
                    "this model was fitted with categorical_groups or mask_as_input, which "
                    "the Array API path does not implement yet: "
                    + (
                        "pass NumPy arrays (for a PyTorch tensor: X.cpu().numpy())."
                        if on_numpy
                        else "move it to NumPy (est = sklearn.utils._array_api."
                        'move_estimator_to(est, numpy, "cpu")) and pass NumPy arrays.'
                    )
                )
            return None
        if getattr(self, "categorical_groups", None) or getattr(self, "mask_as_input", False):
            return (
                "categorical_groups and mask_as_input are not implemented for Array API "
                "inputs yet: fit on a NumPy array (for a PyTorch tensor: X.cpu().numpy())."
            )
        if getattr(self, "contraction", 0):
            return (
                "the contractive penalty (contraction > 0) is not implemented for Array "
                "API inputs yet: set contraction=0, or fit on a NumPy array (for a "
                "PyTorch tensor: X.cpu().numpy())."
            )
        return None

    def _array_api_input(self, X, method):
        """Whether fitted-model method ``method`` takes the Array API path for ``X``.

        Raises if ``X`` and the fitted parameters differ in namespace or device,
        or if the fitted model cannot run there (:meth:`_array_api_problem`).
        """
        check_is_fitted(self)
        if _xp.dispatch_enabled() and _xp.array_namespace(X)[0] is not None:
            # Before scikit-learn's advice to move the model to X's namespace: a model
            # the path cannot run would refuse that move, or run there no further.
            problem = self._array_api_problem(fitted=True)
            if problem is not None:
                raise ValueError(f"{type(self).__name__}.{method}(): {problem}")
        _xp.check_same_namespace(X, self, method=method)
        if _xp.array_namespace(self._params)[0] is None:
            return False
        problem = self._array_api_problem(fitted=True)
        if problem is not None:
            raise ValueError(f"{type(self).__name__}.{method}(): {problem}")
        return True

    # -- fitting ---------------------------------------------------------------------------
    def _fit_array_api(self, X, sample_weight, incremental, xp, device):
        from ._estimator import (
            _AUTO_EARLY_STOPPING_ROWS,
            _auto_batch_size,
            _random_streams,
            _resolve_alpha,
            _warn_of_light_weights,
        )

        name = type(self).__name__
        method = "partial_fit" if incremental else "fit"
        X = _xp.untracked(X)
        if _xp.is_sparse_tensor(X):
            raise TypeError(
                f"{name}.{method}() got a sparse {_xp.namespace_name(xp)} array. Sparse "
                "input stays on the CPU: pass a scipy.sparse matrix (trained by the NumPy "
                "engine) or a dense array of your namespace."
            )
        problem = self._array_api_problem()
        if problem is not None:
            raise ValueError(f"{name}.{method}(): {problem}")
        continuing = (incremental or self.warm_start) and self.__sklearn_is_fitted__()
        if continuing:
            _xp.check_same_namespace(X, self, method=method)
        X = self._check_training_X(
            X,
            continuing,
            incremental,
            dtype=(self._params.dtype,) if continuing else (xp.float64, xp.float32),
        )
        _refuse_missing(X, xp)
        host_dtype = np.dtype(str(X.dtype).rsplit(".", 1)[-1])
        sample_weight = self._check_sample_weight(sample_weight, X, host_dtype)
        spec = self._spec(X.shape[1])
        if continuing:
            self._check_continuation(spec, incremental)
        self._array_api_warn_about_range(X, xp, self.loss, fitted=continuing)

        n_iter = self.n_iter_ if continuing else 0
        n_starts = 1 if continuing or incremental else self._n_starts()
        all_streams = _random_streams(self.random_state, n_iter, n_starts)
        streams = all_streams[0]

        validation_seed = getattr(self, "_validation_seed", None) if continuing else None
        train_rows, validation_rows, split = np.arange(X.shape[0]), None, None
        if self._validates(X.shape[0], sample_weight) and not incremental:
            if validation_seed is None:
                validation_seed = int(streams["split"].integers(2**31 - 1))
            # The split hashes row contents on the host: one copy of X there.
            train_rows, validation_rows, keys = validation_split(
                _xp.to_numpy(X),
                sample_weight,
                self.validation_fraction,
                validation_seed,
                required=not isinstance(self.early_stopping, str),
                min_distinct=_AUTO_EARLY_STOPPING_ROWS,
                return_keys=True,
            )
            split = None if validation_rows is None else split_record(keys, validation_rows)
        if continuing and split is not None:
            self._warn_of_trained_validation_rows(split)
        if sample_weight is not None:  # a zero weight leaves the row out (NumPy engine)
            train_rows = train_rows[sample_weight[train_rows] > 0]
        _warn_of_light_weights(self.alpha, sample_weight, train_rows)
        n_train = train_rows.size
        if self.batch_size == "auto":
            batch_size = _auto_batch_size(n_train)
        else:
            batch_size = min(self.batch_size, n_train)
        corruption, noise_bounds = self._array_api_corruption(
            X,
            train_rows,
            streams["noise"],
            xp,
            device,
            self._previous_noise_bounds(continuing, incremental),
        )
        source = ArrayBatches(
            xp,
            device,
            X,
            train_rows,
            sample_weight,
            batch_size,
            shuffle=self.shuffle,
            corruption=corruption,
        )
        size = n_train if sample_weight is None else float(sample_weight[train_rows].sum())
        X_val = w_val = None
        if validation_rows is not None:
            X_val = xp.take(X, xp.asarray(validation_rows, device=device), axis=0)
            if sample_weight is not None:
                # A weighted mean: weights brought near 1 cannot overflow its sums.
                w_val = xp.asarray(unit_scaled(sample_weight[validation_rows]), device=device)
        # The least monitored loss (validation loss with rows held out, else training
        # loss), computed once the stopping rule needs it, for all starts.
        monitored_rows = train_rows if validation_rows is None else validation_rows
        floor = functools.cache(
            lambda: loss_floor(xp, device, self.loss, X, monitored_rows, sample_weight)
        )
        # As on the host: the class's own scale, or for constant columns a unit one.
        plateau_scale = None if incremental else self._plateau_scale(lambda: float(X.shape[1]))
        if (
            plateau_scale is None
            and not incremental
            and constant_columns(xp, device, X, sample_weight)
        ):
            plateau_scale = CONSTANT_TARGETS_SCALE
        # A fit's, not a partial_fit call's: its penalty follows the chunk.
        alpha_scale = functools.cache(
            lambda: auto_alpha_scale(xp, device, self.loss, X, train_rows, sample_weight)
            if self.alpha == "auto" and not incremental
            else 1.0
        )
        max_epochs = 1 if incremental else self.max_iter
        own_monitors = [print_epoch] if self.verbose else []

        # A guided start (init) trains on the host: at most 2,000 rows, once per fit.
        guide = self._guiding(
            X, spec, None, n_train, train_rows, sample_weight, all_streams,
            fresh=not (continuing or incremental),
        )

        def start(start_streams):
            """A network on the device, its optimizer and objective, from one start."""
            host_model = self._build_model(spec, host_dtype)
            network = ArrayNetwork(host_model, xp)
            guided = False
            if continuing:
                params = self._params
            else:
                host_model.initialize(start_streams["init"], self._init_scheme)
                guided = guide(start_streams, host_model)
                params = xp.asarray(host_model.params, device=device)
            optimizer = ArrayAdam(
                xp,
                params,
                self.learning_rate_init,
                self.beta_1,
                self.beta_2,
                self.epsilon,
                state=self._optimizer_state if continuing else None,
                warmup_steps=warmup_steps(source) if guided else 0,
            )
            objective = ArrayObjective(
                network,
                self.loss,
                alpha=_resolve_alpha(self.alpha, size, alpha_scale()),
                sparsity=self.sparsity,
            )
            validate = None if X_val is None else _validation_loss(objective, X_val, w_val)
            penalty = self._penalty_monitor(objective, validate is not None, size, continuing)
            schedule = None if incremental else Schedule(self.learning_rate, optimizer, max_epochs)
            monitors = [*([] if penalty is None else [penalty]), *own_monitors]

            progress = SimpleNamespace(result=None)  # read by the snapshots, as it trains

            def run(epochs, *, result=None, **kwargs):
                if source.corruption is not None:  # each start draws its own noise
                    source.corruption.rng = start_streams["noise"]
                progress.result = TrainingResult() if result is None else result
                return train(
                    objective,
                    optimizer,
                    source,
                    rng=start_streams["shuffle"],
                    max_epochs=epochs,
                    result=progress.result,
                    to_host=_xp.to_numpy,
                    validate=validate,
                    tol=self.tol,
                    n_iter_no_change=self.n_iter_no_change,
                    plateau_window=self._plateau_window(),
                    patience=self._stop_patience(validate is not None),
                    floor=0.0 if incremental else self._plateau_floor(floor, validate is not None),
                    scale=plateau_scale,
                    schedule=schedule,
                    **{"first_epoch": n_iter + 1, "monitors": monitors, **kwargs},
                )

            return SimpleNamespace(
                optimizer=optimizer,
                objective=objective,
                monitors=monitors,
                run=run,
                progress=progress,
                guided=guided,
            )

        context = {
            "X": X,
            "sample_weight": sample_weight,
            "train_rows": train_rows,
            "alpha_scale": alpha_scale,
            "source": source,
            "streams": streams,
            "n_iter": n_iter,
        }

        # What the fit's history attributes depend on, besides the optimizer and result.
        history = dict(
            continuing=continuing,
            n_iter=n_iter,
            validated=validation_rows is not None,
            validation_seed=validation_seed,
            split=split,
        )

        def state(chosen):
            def snapshot(n):
                # As a stop now would leave it: with rows held out, the best epoch's.
                result = chosen.progress.result
                result = TrainingResult() if result is None else result
                best = result.best_params
                params = chosen.optimizer.params if best is None else best
                params = xp.asarray(params, copy=True)  # the snapshot's own: callbacks may write
                optimizer_state = {
                    key: xp.asarray(value, copy=True) if key in ("m", "v") else value
                    for key, value in chosen.optimizer.state().items()
                }
                return {
                    **self._array_api_attributes(spec, params),
                    "_noise_bounds": copy.deepcopy(noise_bounds),  # the snapshot's own
                    **self._history_attributes(optimizer_state, result, **history),
                    "n_iter_": n,
                }

            return snapshot

        chosen, result = self._train_from_starts(
            start, all_streams, max_epochs, n_iter, context, state
        )
        optimizer = chosen.optimizer
        optimizer.learning_rate = self.learning_rate_init

        # Commit the fitted state all at once, as the NumPy engine's fit does.
        self._commit_fit(
            {**self._array_api_attributes(spec, optimizer.params), "_noise_bounds": noise_bounds},
            optimizer,
            result,
            **history,
        )
        self._warn_about_stop(result, incremental)
        return self

    def _array_api_corruption(self, X, train_rows, rng, xp, device, bounds=None):
        """``_corruption`` on the device: the corruption (or None) and its feature bounds.

        The bounds are on the host (two numbers a feature), widening ``bounds``.
        """
        noise = self._check_noise_level()
        if noise is None:
            return None, bounds
        low = high = None
        if noise == "salt_and_pepper":
            # The training rows' extremes, a block of rows at a time: no copy of the data.
            index = xp.asarray(train_rows, device=device)
            step = max(1, _xp_engine._BLOCK_BYTES // (max(1, int(X.shape[1])) * 8))
            extremes = []
            for start in range(0, train_rows.size, step):
                stop = min(start + step, train_rows.size)  # in bounds, as the standard asks
                rows = xp.take(X, index[start:stop], axis=0)
                extremes.append(
                    _xp.to_numpy(xp.stack([xp.min(rows, axis=0), xp.max(rows, axis=0)]))
                )
            extremes = np.concatenate(extremes)
            bounds = feature_bounds(extremes, np.arange(extremes.shape[0]), bounds)
            low, high = (
                xp.asarray(b, device=device, dtype=X.dtype)
                for b in feature_range(bounds, np.float64)
            )
        return ArrayCorruption(xp, device, noise, self.noise_level, rng, low, high), bounds

    # -- fitted state ----------------------------------------------------------------------
    def _array_api_attributes(self, spec, params):
        """The fitted attributes of a model of ``spec`` whose parameters are ``params``."""
        xp, _ = _xp.array_namespace(params)
        network = ArrayNetwork(self._build_model(spec, np.float64), xp)
        coefs, intercepts = network.views(params)
        attributes = {f"_{key}": value for key, value in spec.items()}
        attributes.update(_params=params, coefs_=coefs, intercepts_=intercepts)
        return attributes

    def __sklearn_array_api_convert__(self, converter):
        """A copy of this estimator with its arrays converted by ``converter``.

        Called by scikit-learn's ``move_estimator_to``: ``coefs_`` and
        ``intercepts_`` are views of one parameter vector, so they are rebuilt from
        the converted vector instead of being converted one by one. A fitted
        model of a class that runs on NumPy only is refused anywhere else,
        rather than moved and broken.
        """
        if "_params" in vars(self) and not vars(type(self)).get("_array_api_path", False):
            target, _ = _xp.array_namespace(converter(np.zeros(1)))
            if target is not None:
                name = type(self).__name__
                raise ValueError(
                    f"Cannot move this {name} to {_xp.namespace_name(target)}: {name} runs "
                    "on NumPy only (not on Array API inputs yet). Keep it on NumPy and pass "
                    "it NumPy arrays."
                )
        new = clone(self)
        for key, value in vars(self).items():
            if key not in ("coefs_", "intercepts_"):
                setattr(new, key, _xp.convert_attributes(value, converter))
        if "_params" in vars(new):
            new._restore_views()
        return new

    # -- inference -------------------------------------------------------------------------
    def _array_objective(self):
        xp, _ = _xp.array_namespace(self._params)
        spec = {
            key: getattr(self, f"_{key}")
            for key in ("layer_sizes", "n_encoder_layers", "activation", "tied_weights")
        }
        network = ArrayNetwork(self._build_model({**spec, "loss": None}, np.float64), xp)
        return ArrayObjective(network, self._loss), xp

    def _array_api_check_X(self, X):
        X = _xp.untracked(X)
        xp, _ = _xp.array_namespace(X)
        _refuse_sparse_tensor(X)
        X = self._check_X(X, reset=False, dtype=(xp.float64, xp.float32))
        _refuse_missing(X, xp, fitted=True)
        self._array_api_warn_about_range(X, xp, self._loss, fitted=True)
        return X, xp

    def _array_api_warn_about_range(self, X, xp, loss, fitted=False):
        """``_warn_about_range`` from ``X``'s extremes (two numbers come to the host)."""
        if loss == "binary_crossentropy" and X.shape[0]:
            bounds = _xp.to_numpy(xp.stack([xp.min(X), xp.max(X)]))
            self._warn_about_range(bounds, loss=loss, fitted=fitted)

    def _array_api_operands(self, xp, X):
        """``X`` and the parameters in their common dtype (products need one dtype)."""
        dtype = xp.result_type(X.dtype, self._params.dtype)
        return xp.astype(X, dtype, copy=False), xp.astype(self._params, dtype, copy=False)

    def _array_api_transform(self, X):
        from ._estimator import _refuse_overflow

        X, xp = self._array_api_check_X(X)
        objective, _ = self._array_objective()
        net, (Xc, params) = objective.network, self._array_api_operands(xp, X)
        codes = _chunked(
            xp, Xc, lambda Z: net.propagate(params, Z, 0, net.n_encoder_layers),
            (self._n_features_out,),
        )
        with np.errstate(over="ignore"):  # a cast that overflows is refused next
            codes = xp.astype(codes, X.dtype)
        _refuse_overflow(self, codes, "codes", xp)  # in X's dtype: the cast can overflow too
        return codes

    def _array_api_inverse_transform(self, X):
        from ._estimator import _CODES_ADVICE, _check_codes, _refuse_overflow

        X = _xp.untracked(X)
        xp, _ = _xp.array_namespace(X)
        _refuse_sparse_tensor(X)
        X = _check_codes(self, X, dtype=(xp.float64, xp.float32))
        objective, _ = self._array_objective()
        net, (Xc, params) = objective.network, self._array_api_operands(xp, X)
        out = _chunked(
            xp,
            Xc,
            lambda C: objective.output(
                net.propagate(params, C, net.n_encoder_layers, net.n_layers)
            ),
            (self.n_features_in_,),
        )
        with np.errstate(over="ignore"):  # a cast that overflows is refused next
            out = xp.astype(out, X.dtype)
        _refuse_overflow(self, out, "reconstructions", xp, advice=_CODES_ADVICE)
        return out

    def _array_api_score_samples(self, X):
        X, xp = self._array_api_check_X(X)
        objective, _ = self._array_objective()
        Xc, params = self._array_api_operands(xp, X)
        errors = _chunked(xp, Xc, lambda Z: objective.sample_errors(params, Z), ())
        # X is finite: only a reconstruction that overflowed gives NaN, or an infinite
        # error (-inf too: binary cross-entropy off [0, 1] is unbounded below).
        infinity = xp.asarray(xp.inf, dtype=errors.dtype, device=errors.device)
        errors = xp.where(xp.isfinite(errors), errors, infinity)
        return -xp.astype(errors, _xp.max_float_dtype(xp, X.device))


def _chunked(xp, X, fn, tail_shape):
    """``fn`` applied to chunks of ``_CHUNK_ROWS`` rows of ``X``, concatenated."""
    n = X.shape[0]
    if n == 0:
        return xp.zeros((0, *tail_shape), dtype=X.dtype, device=X.device)
    # What overflows is refused or scored -inf by the callers: on NumPy-backed
    # namespaces, NumPy's warnings would say nothing more.
    with np.errstate(over="ignore", invalid="ignore"):
        parts = [fn(X[s : min(s + _CHUNK_ROWS, n), ...]) for s in range(0, n, _CHUNK_ROWS)]
    return parts[0] if len(parts) == 1 else xp.concat(parts)
