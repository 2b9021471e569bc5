"""Plots of what an autoencoder learned, in scikit-learn's Display style.

Each display is built either from an estimator (``from_estimator``) or from
arrays you computed yourself (the constructor), then drawn with ``plot``; the
display keeps the figure (``figure_``), the axes and the artists it drew, so a
plot can be adjusted after the fact. matplotlib is imported only when something
is drawn: ``import skae`` and ``import skae.plotting`` never need it.

- :class:`LatentSpaceDisplay`: the 2-D codes as a scatter plot, coloured by an
  optional target.
- :class:`LossCurveDisplay`: the training (and validation) loss per epoch.
- :class:`ReconstructionDisplay`: image-shaped rows above their reconstructions.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.pipeline import Pipeline
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["LatentSpaceDisplay", "LossCurveDisplay", "ReconstructionDisplay"]


def _pyplot(caller):
    """Import and return ``matplotlib.pyplot``, or say why ``caller`` cannot run."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{caller} requires matplotlib. You can install it with `pip install matplotlib`."
        ) from exc
    return plt


def _final_step(estimator):
    """The estimator itself, or the last step of a :class:`~sklearn.pipeline.Pipeline`."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _require(estimator, methods, display):
    """Refuse, clearly, an estimator without the ``methods`` a display calls.

    Also an imputer, whose ``transform`` returns imputed data rather than codes.
    """
    from ._impute import AutoencoderImputer  # here: plotting stays importable alone

    name = type(_final_step(estimator)).__name__
    if isinstance(_final_step(estimator), AutoencoderImputer):
        if "inverse_transform" in methods:  # a pipeline ending in an imputer has none
            what = "an autoencoder's reconstructions"
            how = (
                "ae = AutoencoderTransformer().fit(imputer.transform(X)), then "
                f"{display}.from_estimator(ae, imputer.transform(X))"
            )
        else:
            what = "what an autoencoder's codes hold"
            how = "make_pipeline(imputer, AutoencoderTransformer(n_components=2)).fit(X)"
        raise TypeError(
            f"{display}.from_estimator plots {what}, and {name}.transform returns "
            "imputed data, not codes: plot an AutoencoderTransformer fitted on the "
            f"imputed data, e.g. {how}."
        )
    missing = [m for m in methods if not hasattr(estimator, m)]
    if missing:
        hint = (
            " (an outlier detector has none: plot an AutoencoderTransformer fitted alike)"
            if getattr(estimator, "_estimator_type", None) == "outlier_detector"
            or hasattr(estimator, "decision_function")
            else ""
        )
        raise TypeError(
            f"{display}.from_estimator needs a transformer with "
            f"{' and '.join(methods)}; {type(estimator).__name__} has no "
            f"{missing[0]}{hint}."
        )


def _default_name(estimator):
    return type(_final_step(estimator)).__name__


def _as_dense(X):
    if sp.issparse(X):
        return X.toarray()
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas: pd.NA of nullable columns
        try:
            return X.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            pass  # not numbers: refused by the checks that follow, by name
    return np.asarray(X)


def _image_rows(values, name, allow_nan=False):
    """``values`` checked as a 2-D array of image rows; a ragged sequence is refused by name."""
    try:
        values = _as_dense(values)
    except ValueError as exc:  # numpy refuses a ragged nested sequence
        raise ValueError(
            f"{name} must be an array-like of shape (n_images, n_features); {exc}"
        ) from exc
    return check_array(
        values, input_name=name, ensure_all_finite="allow-nan" if allow_nan else True
    )


def _is_list_of_arrays(rows):
    """Whether ``rows`` is a list (or tuple) of 2-D array-likes, not one of numbers or rows."""
    if not isinstance(rows, (list, tuple)) or len(rows) == 0:
        return False
    try:
        return np.ndim(rows[0]) >= 2
    except ValueError:  # a ragged first array: refused when it is checked
        return True


class LatentSpaceDisplay:
    """Scatter plot of 2-D codes, coloured by an optional target.

    The picture by which a 2-D reduction is judged: do the clusters separate,
    is the structure of the data kept? Build it with :meth:`from_estimator`
    from any fitted transformer whose ``transform`` returns two columns (an
    :class:`~skae.AutoencoderTransformer` with ``n_components=2``, a
    :class:`~sklearn.pipeline.Pipeline` ending in one, or
    :class:`~sklearn.decomposition.PCA` for comparison), or from codes you
    already have. All parameters are stored as attributes.

    Parameters
    ----------
    codes : array-like of shape (n_samples, 2)
        The codes to plot.

    y : array-like of shape (n_samples,), default=None
        Colours of the points. Class labels (integers or strings) get one
        colour each and a legend (a colorbar beyond 20 classes), in sorted
        order, or a pandas categorical's own order; continuous values get a
        colormap and a colorbar. None draws every point alike.

    name : str, default=None
        Title of the axes. None gives no title.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        The points.

    legend_ : matplotlib Legend or None
        One entry per class, when ``y`` holds at most 20 classes.

    colorbar_ : matplotlib Colorbar or None
        When ``y`` is continuous, or holds more than 20 classes.

    ax_ : matplotlib Axes
        Axes with the scatter plot.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    LossCurveDisplay : Training and validation loss per epoch.
    ReconstructionDisplay : Images above their reconstructions.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderTransformer
    >>> from skae.datasets import make_manifold_clusters
    >>> from skae.plotting import LatentSpaceDisplay
    >>> X, y, _ = make_manifold_clusters(300, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(
    ...     n_components=2, hidden_layer_sizes=(16,), early_stopping=True,
    ...     random_state=0))
    >>> pipe = pipe.fit(X)
    >>> disp = LatentSpaceDisplay.from_estimator(pipe, X, y=y)
    >>> disp.scatter_.get_offsets().shape
    (300, 2)
    >>> [text.get_text() for text in disp.legend_.get_texts()]
    ['0', '1', '2', '3']
    """

    def __init__(self, codes, y=None, *, name=None):
        self.codes = codes
        self.y = y
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the scatter plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.

        name : str, default=None
            Title of the axes; overrides the ``name`` given at construction.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`, overriding the
            defaults (e.g. ``s``, ``alpha``, ``marker``, ``cmap``, ``norm``).
            Filled markers are drawn without an edge (``linewidths=0``), line
            markers such as ``"x"`` with one. With ``y``, the colours are
            ``y``'s: ``c`` is refused. With class labels, a ``cmap`` listing at
            most 20 colours, at least one per class, gives class ``i`` its
            ``i``-th colour; another spreads the classes evenly over its range.

        Returns
        -------
        display : LatentSpaceDisplay
            The display, holding the drawn artists.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        codes = _as_dense(self.codes)
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(
                f"{type(self).__name__} plots 2-D codes, an array of shape (n_samples, 2); "
                f"got an array of shape {codes.shape}. Fit the estimator with "
                "n_components=2, or pass two columns of the codes."
            )
        codes = check_array(codes, input_name="codes")
        name = self.name if name is None else name
        # Everything that can be refused is, before a figure is made.
        target_type = None
        if self.y is not None:
            y = np.asarray(self.y)
            if y.ndim != 1 or y.shape[0] != codes.shape[0]:
                raise ValueError(
                    f"y must be 1-D with one value per sample ({codes.shape[0]}); "
                    f"got an array of shape {y.shape}."
                )
            if "c" in kwargs:
                raise ValueError(
                    "y sets the colours of the points, so c cannot: pass y=None to "
                    "colour them with c."
                )
            if y.dtype == object:
                missing = [
                    v is None or is_scalar_nan(v) or type(v).__name__ == "NAType"
                    for v in y.tolist()
                ]
            else:
                missing = np.isnan(y) if y.dtype.kind in "fc" else []
            if np.any(missing):
                raise ValueError(
                    f"y holds {int(np.count_nonzero(missing))} missing value(s) (None, NaN "
                    "or pd.NA): drop those samples, or give them a value of their own "
                    "(e.g. y.fillna('unknown') on a pandas Series of labels)."
                )
            try:
                target_type = type_of_target(y, input_name="y")
                if target_type in ("binary", "multiclass"):
                    classes, indices = np.unique(y, return_inverse=True)
                    declared = getattr(getattr(self.y, "cat", self.y), "categories", None)
                    if declared is not None:  # a pandas categorical: its own order
                        order = [c for c in declared if c in set(classes.tolist())]
                        rank = {c: i for i, c in enumerate(order)}
                        position = np.array([rank[c] for c in classes.tolist()])
                        indices = position[indices]
                        classes = np.asarray(order, dtype=classes.dtype)
            except TypeError as exc:  # the labels do not sort
                raise ValueError(
                    "y's class labels must be of one type that sorts (all strings or all "
                    f"numbers, no None); got {sorted({type(v).__name__ for v in y})}."
                ) from exc
            if target_type not in ("binary", "multiclass", "continuous"):
                raise ValueError(
                    "y must hold class labels or continuous values, one per sample; "
                    f"got a target of type {target_type!r}."
                )
        if ax is None:
            _, ax = plt.subplots()

        from matplotlib.markers import MarkerStyle

        marker = kwargs.get("marker", plt.rcParams["scatter.marker"])
        style = {"s": 12, "alpha": 0.8}
        if MarkerStyle(marker).is_filled():  # no edge; a line marker ("x", "+") is all edge
            style["linewidths"] = 0
        legend = colorbar = None
        if target_type is None:
            scatter = ax.scatter(codes[:, 0], codes[:, 1], **{**style, **kwargs})
        else:
            if target_type == "continuous":
                style["cmap"] = "viridis"
                scatter = ax.scatter(codes[:, 0], codes[:, 1], c=y, **{**style, **kwargs})
                colorbar = ax.figure.colorbar(scatter, ax=ax)
            else:
                n_classes = len(classes)
                # Class i gets the i-th colour of a qualitative colormap (one of up to 20
                # colours with at least one per class); classes spread evenly over others.
                style["cmap"], n_colors = (
                    ("tab10", 10)
                    if n_classes <= 10
                    else ("tab20", 20)
                    if n_classes <= 20
                    else ("viridis", n_classes)
                )
                if "cmap" in kwargs:
                    from matplotlib import colormaps
                    from matplotlib.colors import ListedColormap

                    own = colormaps.get_cmap(kwargs["cmap"])
                    qualitative = isinstance(own, ListedColormap) and n_classes <= own.N <= 20
                    n_colors = own.N if qualitative else n_classes
                if "norm" not in kwargs:  # a norm of one's own sets the range itself
                    style["vmin"], style["vmax"] = -0.5, n_colors - 0.5
                scatter = ax.scatter(codes[:, 0], codes[:, 1], c=indices, **{**style, **kwargs})
                if n_classes <= 20:
                    from matplotlib.lines import Line2D

                    handles = [
                        Line2D(
                            [],
                            [],
                            linestyle="",
                            marker=marker,
                            color=scatter.cmap(scatter.norm(i)),
                        )
                        for i in range(n_classes)
                    ]
                    legend = ax.legend(
                        handles,
                        [str(c) for c in classes],
                        title="y",
                        loc="best",
                        fontsize="small",
                        markerscale=1.0,
                    )
                else:  # ticks at up to 10 classes, named by their labels
                    colorbar = ax.figure.colorbar(scatter, ax=ax)
                    ticks = np.unique(np.linspace(0, n_classes - 1, 10).round().astype(int))
                    colorbar.set_ticks(ticks, labels=[str(classes[i]) for i in ticks])
        ax.set_xlabel("code 1")
        ax.set_ylabel("code 2")
        if name is not None:
            ax.set_title(name)

        self.scatter_ = scatter
        self.legend_ = legend
        self.colorbar_ = colorbar
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, ax=None, name=None, **kwargs):
        """Plot the codes that a fitted transformer gives ``X``.

        Parameters
        ----------
        estimator : estimator instance
            Fitted transformer whose ``transform`` returns two columns: an
            :class:`~skae.AutoencoderTransformer` with ``n_components=2``, a
            :class:`~sklearn.pipeline.Pipeline` ending in one, or any other
            2-D reducer (e.g. :class:`~sklearn.decomposition.PCA`).

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        y : array-like of shape (n_samples,), default=None
            Colours of the points (class labels or continuous values).

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.

        name : str, default=None
            Title of the axes. None uses the class name of the estimator (of
            the last step of a pipeline).

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
            The display, holding the drawn artists.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        _require(estimator, ["transform"], cls.__name__)
        codes = _as_dense(estimator.transform(X))
        if codes.ndim != 2 or codes.shape[1] != 2:
            raise ValueError(
                f"{cls.__name__} plots 2-D codes, but {_default_name(estimator)}.transform "
                f"returned an array of shape {codes.shape}. Fit it with n_components=2."
            )
        name = _default_name(estimator) if name is None else name
        return cls(codes, y, name=name).plot(ax=ax, **kwargs)


class LossCurveDisplay:
    """Training and validation loss per epoch.

    Shows whether training converged, and with ``early_stopping=True`` where
    the validation loss stopped improving: a dotted line marks the epoch whose
    weights the estimator keeps, the best epoch of its last fit. All
    parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss of every epoch, such as ``loss_curve_``.

    validation_loss_curve : array-like of shape (n_validation_epochs,), default=None
        Validation loss of every epoch, such as ``validation_loss_curve_``;
        NaN entries (epochs without validation) are drawn as gaps. When shorter
        than ``loss_curve``, it is aligned with the last epochs.

    best_validation_loss : float, default=None
        Validation loss of the kept weights, such as ``best_validation_loss_``.
        It places the marker when the epochs after the last NaN of
        ``validation_loss_curve`` span several early-stopped ``warm_start``
        fits in a row: the marked epoch is the first to reach it after the
        last epoch with a lower loss (the last fit's epochs come last, none is
        below its best, and it keeps the first epoch reaching it). None marks
        the smallest validation loss after the last NaN, which is right when
        those epochs are one fit's.

    name : str, default=None
        Title of the axes. None gives no title.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.

    validation_line_ : matplotlib Line2D or None
        The validation loss, if given.

    best_line_ : matplotlib Line2D or None
        Vertical line at the epoch whose weights were kept: the best epoch of
        the last fit with validation, that is, of the epochs after the last
        NaN of ``validation_loss_curve`` (see ``best_validation_loss``). None
        without a validation curve, or when it ends with NaN: a last fit
        without validation keeps its own last epoch.

    ax_ : matplotlib Axes
        Axes with the curves.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    LatentSpaceDisplay : Scatter plot of 2-D codes.
    ReconstructionDisplay : Images above their reconstructions.

    Notes
    -----
    An :class:`~skae.AutoencoderTransformer`'s ``loss_curve_`` is the training
    objective, which includes the L2 term when ``alpha > 0``, while its
    ``validation_loss_curve_`` is the reconstruction loss alone.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderTransformer
    >>> from skae.datasets import make_manifold_clusters
    >>> from skae.plotting import LossCurveDisplay
    >>> X, _, _ = make_manifold_clusters(300, random_state=0)
    >>> X = StandardScaler().fit_transform(X)
    >>> ae = AutoencoderTransformer(hidden_layer_sizes=(16,), early_stopping=True,
    ...                             random_state=0).fit(X)
    >>> disp = LossCurveDisplay.from_estimator(ae)
    >>> len(disp.line_.get_xdata()) == ae.n_iter_
    True
    >>> disp.validation_line_.get_label()
    'validation loss'
    """

    def __init__(
        self, loss_curve, validation_loss_curve=None, *, best_validation_loss=None, name=None
    ):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.best_validation_loss = best_validation_loss
        self.name = name

    @staticmethod
    def _curve(values, what):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"{what} must be a non-empty 1-D sequence of losses; "
                f"got an array of shape {values.shape}."
            )
        return values

    def _kept_epoch(self, validated):
        """Index in ``validated`` (the epochs after the last NaN) of the kept weights."""
        best = self.best_validation_loss
        if best is None:
            return int(np.argmin(validated))
        # The last fit's epochs end ``validated``, none below its best, and it kept
        # the first of them to reach it: the first after the last lower epoch
        # (an earlier fit that reached the very same loss there is taken for it).
        lower = np.flatnonzero(validated < best)
        after = lower[-1] + 1 if lower.size else 0
        reached = np.flatnonzero(validated[after:] == best)
        if not reached.size:
            raise ValueError(
                f"best_validation_loss {best!r} is not the validation loss of an epoch "
                "after the last NaN of validation_loss_curve."
            )
        return after + int(reached[0])

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the loss curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.

        name : str, default=None
            Title of the axes; overrides the ``name`` given at construction.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` for both curves
            (e.g. ``linewidth``).

        Returns
        -------
        display : LossCurveDisplay
            The display, holding the drawn artists.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        loss = self._curve(self.loss_curve, "loss_curve")
        validation = None
        if self.validation_loss_curve is not None:
            validation = self._curve(self.validation_loss_curve, "validation_loss_curve")
            if validation.size > loss.size:
                raise ValueError(
                    f"validation_loss_curve has {validation.size} epochs, more than "
                    f"loss_curve ({loss.size})."
                )
        if self.best_validation_loss is not None:
            if validation is None:
                raise ValueError("best_validation_loss needs a validation_loss_curve.")
            if not isinstance(self.best_validation_loss, Real):
                raise ValueError(
                    "best_validation_loss must be a real number; got "
                    f"{self.best_validation_loss!r}."
                )
        name = self.name if name is None else name
        epochs = np.arange(1, loss.size + 1)
        best_epoch = None
        if validation is not None:
            validation_epochs = epochs[loss.size - validation.size :]
            # The kept weights are those of the best epoch of the last fit that
            # validated, among the trailing run of validated epochs. A curve that
            # ends without validation kept its last epoch's weights: nothing to mark.
            # Found before anything is drawn: a wrong best_validation_loss is refused.
            unvalidated = np.flatnonzero(np.isnan(validation))
            start = unvalidated[-1] + 1 if unvalidated.size else 0
            if start < validation.size:
                best_epoch = validation_epochs[start + self._kept_epoch(validation[start:])]
        if ax is None:
            _, ax = plt.subplots()

        (line,) = ax.plot(epochs, loss, **{"label": "training loss", **kwargs})
        validation_line = best_line = None
        if validation is not None:
            (validation_line,) = ax.plot(
                validation_epochs, validation, **{"label": "validation loss", **kwargs}
            )
            if best_epoch is not None:
                best_line = ax.axvline(
                    best_epoch,
                    color="0.5",
                    linestyle=":",
                    linewidth=1,
                    label=f"best validation epoch ({best_epoch})",
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        if name is not None:
            ax.set_title(name)

        self.line_ = line
        self.validation_line_ = validation_line
        self.best_line_ = best_line
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, **kwargs):
        """Plot the loss curves recorded by a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            Fitted :class:`~skae.AutoencoderTransformer`, or a
            :class:`~sklearn.pipeline.Pipeline` ending in one. Any estimator
            with a ``loss_curve_`` attribute will do (an optional
            ``validation_loss_curve_`` is drawn too, and an optional
            ``best_validation_loss_`` places the marker of the kept weights).

        ax : matplotlib Axes, default=None
            Axes to draw on. None creates a new figure and axes.

        name : str, default=None
            Title of the axes. None uses the class name of the estimator (of
            the last step of a pipeline).

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LossCurveDisplay
            The display, holding the drawn artists.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        final = _final_step(estimator)
        check_is_fitted(final)
        if not hasattr(final, "loss_curve_"):
            raise ValueError(
                f"{type(final).__name__} records no loss_curve_; {cls.__name__} needs an "
                "estimator trained by epochs, such as AutoencoderTransformer."
            )
        name = _default_name(estimator) if name is None else name
        validation = getattr(final, "validation_loss_curve_", None)
        best = getattr(final, "best_validation_loss_", None) if validation is not None else None
        display = cls(final.loss_curve_, validation, best_validation_loss=best, name=name)
        return display.plot(ax=ax, **kwargs)


class ReconstructionDisplay:
    """Image-shaped rows (top row) above their reconstructions.

    Each column is a sample: its original on the first row, then one row per
    set of reconstructions (one model, or the same model at several settings).
    All images share one grey scale, that of the originals, so errors show as
    they are. All parameters are stored as attributes.

    Parameters
    ----------
    originals : array-like of shape (n_images, n_features)
        The samples, one image per row. Missing entries (NaN) are drawn blank.

    reconstructions : array-like of shape (n_images, n_features) or list of such
        Their reconstructions; a list of 2-D array-likes draws one row per
        array. A nested list of numbers is one array-like of shape
        ``(n_images, n_features)``, as a 2-D array.

    image_shape : tuple of int, default=None
        ``(height, width)`` of each image, with ``height * width == n_features``.
        None means square images. ``(1, n_features)`` draws any row as a strip.

    labels : list of str, default=None
        Names of the rows of reconstructions. None gives ``"reconstruction"``,
        or ``"reconstruction 1"``, ``"reconstruction 2"``, ... for several.

    Attributes
    ----------
    images_ : ndarray of matplotlib AxesImage, shape (n_rows, n_images)
        The drawn images; row 0 holds the originals.

    axes_ : ndarray of matplotlib Axes, shape (n_rows, n_images)
        One axes per image.

    bounding_ax_ : matplotlib Axes or None
        The axes whose area was split into ``axes_``, when ``plot`` got a
        single Axes; None otherwise.

    figure_ : matplotlib Figure
        Figure containing the axes.

    See Also
    --------
    LatentSpaceDisplay : Scatter plot of 2-D codes.
    LossCurveDisplay : Training and validation loss per epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plotting import ReconstructionDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> ae = AutoencoderTransformer(n_components=8, hidden_layer_sizes=(32,),
    ...                             random_state=0).fit(X)
    >>> disp = ReconstructionDisplay.from_estimator(ae, X, image_shape=(8, 8), n_images=6)
    >>> disp.axes_.shape
    (2, 6)
    >>> disp.images_[1, 0].get_array().shape
    (8, 8)
    """

    def __init__(self, originals, reconstructions, *, image_shape=None, labels=None):
        self.originals = originals
        self.reconstructions = reconstructions
        self.image_shape = image_shape
        self.labels = labels

    def _validate(self):
        originals = _image_rows(self.originals, "originals", allow_nan=True)
        rows = self.reconstructions
        if isinstance(rows, (list, tuple)) and len(rows) == 0:
            raise ValueError(
                "reconstructions is empty: pass an array of shape (n_images, n_features), "
                "or a list of such arrays, one per row of images to draw."
            )
        # A list of numbers or of rows is one array-like, as a 2-D array would be.
        if not _is_list_of_arrays(rows):
            rows = [rows]
        rows = [_image_rows(r, "reconstructions") for r in rows]
        for r in rows:
            if r.shape != originals.shape:
                raise ValueError(
                    f"Each array of reconstructions must have the shape of originals, "
                    f"{originals.shape}; got {r.shape}."
                )
        n_features = originals.shape[1]
        if self.image_shape is None:
            side = int(round(np.sqrt(n_features)))
            if side * side != n_features:
                raise ValueError(
                    f"Rows of {n_features} features are not square images; "
                    "pass image_shape=(height, width)."
                )
            image_shape = (side, side)
        else:
            image_shape = (
                tuple(self.image_shape) if np.iterable(self.image_shape) else ()
            )
            if (
                len(image_shape) != 2
                or not all(isinstance(s, Integral) and s > 0 for s in image_shape)
                or image_shape[0] * image_shape[1] != n_features
            ):
                raise ValueError(
                    f"image_shape must be (height, width) with height * width == "
                    f"n_features ({n_features}); got {self.image_shape!r}."
                )
        if self.labels is None:
            labels = (
                ["reconstruction"]
                if len(rows) == 1
                else [f"reconstruction {i}" for i in range(1, len(rows) + 1)]
            )
        else:
            if isinstance(self.labels, str) or not np.iterable(self.labels):
                raise ValueError(
                    "labels must be a list of names, one per row of reconstructions; got "
                    f"{self.labels!r}."
                )
            labels = [str(label) for label in self.labels]
            if len(labels) != len(rows):
                raise ValueError(
                    f"Got {len(labels)} labels for {len(rows)} rows of reconstructions."
                )
        return originals, rows, image_shape, labels

    def plot(self, ax=None, *, cmap="gray_r", **kwargs):
        """Draw the originals above their reconstructions.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            None creates a new figure. A single Axes (from a grid of subplots)
            is split into the grid of images and hidden. An array of Axes of
            shape ``(n_rows, n_images)`` is used as it is, with ``n_rows`` one
            more than the number of rows of reconstructions; with one image, a
            1-D array of ``n_rows`` Axes (what ``plt.subplots(n_rows, 1)``
            returns) is that grid's column.

        cmap : str or matplotlib Colormap, default="gray_r"
            Colormap of the images.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.imshow` (e.g. ``vmin``,
            ``vmax``, ``interpolation``).

        Returns
        -------
        display : ReconstructionDisplay
            The display, holding the drawn artists.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        originals, rows, image_shape, labels = self._validate()
        n_rows, n_images = 1 + len(rows), originals.shape[0]

        bounding_ax = None
        if ax is None:
            figure, axes = plt.subplots(
                n_rows,
                n_images,
                figsize=(0.9 * n_images + 1.0, 0.9 * n_rows + 0.3),
                squeeze=False,
            )
        elif isinstance(ax, plt.Axes):
            spec = ax.get_subplotspec()
            if spec is None:
                raise ValueError(
                    "A single ax must come from a grid of subplots (plt.subplots) to be "
                    "split into images; pass an array of Axes instead."
                )
            from matplotlib.gridspec import GridSpecFromSubplotSpec

            ax.set_axis_off()
            bounding_ax, figure = ax, ax.figure
            grid = GridSpecFromSubplotSpec(n_rows, n_images, subplot_spec=spec)
            axes = np.empty((n_rows, n_images), dtype=object)
            for i in range(n_rows):
                for j in range(n_images):
                    axes[i, j] = figure.add_subplot(grid[i, j])
        else:
            axes = np.asarray(ax, dtype=object)
            if n_images == 1 and axes.shape == (n_rows,):
                # One image: what plt.subplots(n_rows, 1) returns, the grid's one column.
                axes = axes.reshape(n_rows, 1)
            if axes.shape != (n_rows, n_images):
                raise ValueError(
                    f"Expected an array of Axes of shape {(n_rows, n_images)}, "
                    f"got shape {axes.shape}."
                )
            figure = axes[0, 0].figure

        observed = not np.isnan(originals).all()
        vmin = float(np.nanmin(originals)) if observed else None
        vmax = float(np.nanmax(originals)) if observed else None
        if observed and vmin == vmax:  # constant originals: a range around their value
            pad = max(0.5, abs(vmin) * 1e-6)
            vmin, vmax = vmin - pad, vmax + pad
        style = {"cmap": cmap, "interpolation": "nearest"}
        if "norm" not in kwargs:  # a norm of one's own sets the range itself
            style.update(vmin=vmin, vmax=vmax)
        style.update(kwargs)
        images = np.empty((n_rows, n_images), dtype=object)
        for i, values in enumerate([originals, *rows]):
            for j in range(n_images):
                axis = axes[i, j]
                images[i, j] = axis.imshow(values[j].reshape(image_shape), **style)
                axis.set_xticks([])
                axis.set_yticks([])
            axes[i, 0].set_ylabel(
                "original" if i == 0 else labels[i - 1],
                rotation=0,
                ha="right",
                va="center",
                fontsize="small",
            )

        self.images_ = images
        self.axes_ = axes
        self.bounding_ax_ = bounding_ax
        self.figure_ = figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        image_shape=None,
        n_images=8,
        ax=None,
        name=None,
        cmap="gray_r",
        **kwargs,
    ):
        """Plot the first rows of ``X`` above their reconstructions by an estimator.

        Parameters
        ----------
        estimator : estimator instance
            Fitted transformer with ``transform`` and ``inverse_transform``: an
            :class:`~skae.AutoencoderTransformer`, a
            :class:`~sklearn.pipeline.Pipeline` ending in one (reconstructions
            are then mapped back through the earlier steps, e.g. a
            :class:`~sklearn.preprocessing.StandardScaler`), or
            :class:`~sklearn.decomposition.PCA` for comparison.

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; the first ``n_images`` are drawn.

        image_shape : tuple of int, default=None
            ``(height, width)`` of each image; None means square images.

        n_images : int, default=8
            Number of samples to draw (at most ``n_samples``).

        ax : matplotlib Axes or array-like of Axes, default=None
            Where to draw; see :meth:`plot`.

        name : str, default=None
            Label of the row of reconstructions. None uses the class name of
            the estimator (of the last step of a pipeline).

        cmap : str or matplotlib Colormap, default="gray_r"
            Colormap of the images.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.imshow`.

        Returns
        -------
        display : ReconstructionDisplay
            The display, holding the drawn artists.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        _require(estimator, ["transform", "inverse_transform"], cls.__name__)
        if not isinstance(n_images, Integral) or isinstance(n_images, bool) or n_images < 1:
            raise ValueError(f"n_images must be a positive integer; got {n_images!r}.")
        if sp.issparse(X):
            X = X.tocsr()  # COO, DIA and BSR cannot be sliced by rows
        X = X.iloc[:n_images] if hasattr(X, "iloc") else X[:n_images]
        reconstructions = estimator.inverse_transform(estimator.transform(X))
        name = _default_name(estimator) if name is None else name
        display = cls(
            _as_dense(X), _as_dense(reconstructions), image_shape=image_shape, labels=[name]
        )
        return display.plot(ax=ax, cmap=cmap, **kwargs)
