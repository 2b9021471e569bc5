"""The displays of skae.plotting, drawn headless: the artists hold the data given."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import make_manifold_clusters
from skae.plotting import LatentSpaceDisplay, LossCurveDisplay, ReconstructionDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def clusters():
    X, y, _ = make_manifold_clusters(200, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def pipe(clusters):
    X, _ = clusters
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), early_stopping=True, max_iter=30, random_state=0
    )
    return make_pipeline(StandardScaler(), ae).fit(X)


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return X[:300]


@pytest.fixture(scope="module")
def digits_pipe(digits):
    ae = AutoencoderTransformer(
        n_components=4, hidden_layer_sizes=(16,), max_iter=10, random_state=0
    )
    return make_pipeline(StandardScaler(), ae).fit(digits)


def test_import_needs_no_matplotlib():
    code = "import sys, skae, skae.plotting, skae.datasets; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- LatentSpaceDisplay ---------------------------------------------------------------------
def test_latent_space_from_pipeline(pipe, clusters):
    X, y = clusters
    disp = LatentSpaceDisplay.from_estimator(pipe, X, y=y)
    assert_allclose(disp.scatter_.get_offsets(), pipe.transform(X))
    assert disp.ax_.get_title() == "AutoencoderTransformer"
    assert disp.figure_ is disp.ax_.figure
    assert disp.ax_.get_xlabel() == "code 1"
    assert [t.get_text() for t in disp.legend_.get_texts()] == [str(c) for c in np.unique(y)]
    assert disp.colorbar_ is None
    # Each class is drawn in its own colour, the same as its legend entry.
    disp.figure_.canvas.draw()
    colours = disp.scatter_.get_facecolors()[:, :3]
    for label, handle in zip(np.unique(y), disp.legend_.legend_handles, strict=True):
        rgb = matplotlib.colors.to_rgb(handle.get_color())
        assert_allclose(colours[y == label], np.tile(rgb, (np.sum(y == label), 1)))
    assert len(np.unique(colours, axis=0)) == len(np.unique(y))


def test_latent_space_on_given_ax_with_other_reducer(clusters):
    X, y = clusters
    _, ax = plt.subplots()
    pca = PCA(n_components=2).fit(X)
    disp = LatentSpaceDisplay.from_estimator(pca, X, ax=ax, name="PCA(2)", s=3)
    assert disp.ax_ is ax
    assert ax.get_title() == "PCA(2)"
    assert_allclose(disp.scatter_.get_offsets(), pca.transform(X))
    assert_allclose(disp.scatter_.get_sizes(), [3])
    assert disp.legend_ is None and disp.colorbar_ is None


def test_latent_space_string_and_continuous_targets():
    rng = np.random.RandomState(0)
    codes = rng.normal(size=(30, 2))
    labels = np.array(["cat", "dog", "eel"])[rng.randint(3, size=30)]
    disp = LatentSpaceDisplay(codes, labels).plot()
    assert [t.get_text() for t in disp.legend_.get_texts()] == ["cat", "dog", "eel"]

    disp = LatentSpaceDisplay(codes, rng.uniform(size=30)).plot()
    assert disp.legend_ is None
    assert disp.colorbar_ is not None

    disp = LatentSpaceDisplay(codes, np.arange(30)).plot()  # 30 classes: too many to list
    assert disp.legend_ is None
    assert disp.colorbar_ is not None


def test_latent_space_accepts_sparse_codes():
    codes = sp.csr_matrix(np.eye(4)[:, :2])
    disp = LatentSpaceDisplay(codes).plot()
    assert_allclose(disp.scatter_.get_offsets(), codes.toarray())


@pytest.mark.parametrize(
    "codes, y, match",
    [
        (np.zeros((5, 3)), None, r"2-D codes.*\(5, 3\)"),
        (np.zeros((5, 1)), None, r"2-D codes.*\(5, 1\)"),
        (np.zeros(5), None, r"2-D codes.*\(5,\)"),
        (np.zeros((5, 2)), np.zeros(4), "one value per sample"),
        (np.zeros((5, 2)), np.zeros((5, 2)), "one value per sample"),
        (np.full((5, 2), np.nan), None, "NaN"),
    ],
)
def test_latent_space_bad_input(codes, y, match):
    with pytest.raises(ValueError, match=match):
        LatentSpaceDisplay(codes, y).plot()


def test_latent_space_from_estimator_needs_two_components(clusters):
    X, _ = clusters
    pca = PCA(n_components=3).fit(X)
    with pytest.raises(ValueError, match=r"PCA.transform returned an array of shape \(200, 3\)"):
        LatentSpaceDisplay.from_estimator(pca, X)


def test_latent_space_unfitted():
    with pytest.raises(NotFittedError):
        LatentSpaceDisplay.from_estimator(AutoencoderTransformer(), np.zeros((3, 4)))


# -- LossCurveDisplay -----------------------------------------------------------------------
def test_loss_curve_from_pipeline(pipe):
    ae = pipe[-1]
    disp = LossCurveDisplay.from_estimator(pipe)
    assert_allclose(disp.line_.get_ydata(), ae.loss_curve_)
    assert_array_equal(disp.line_.get_xdata(), np.arange(1, ae.n_iter_ + 1))
    assert_allclose(disp.validation_line_.get_ydata(), ae.validation_loss_curve_)
    best = np.argmin(ae.validation_loss_curve_) + 1
    assert_allclose(disp.best_line_.get_xdata(), [best, best])
    assert disp.ax_.get_title() == "AutoencoderTransformer"
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels[:2] == ["training loss", "validation loss"]


def test_loss_curve_with_epochs_without_validation(clusters):
    X, _ = clusters
    ae = AutoencoderTransformer(
        2, hidden_layer_sizes=(8,), max_iter=3, warm_start=True, early_stopping=False
    )
    ae.fit(X).set_params(early_stopping=True).fit(X)
    disp = LossCurveDisplay.from_estimator(ae)
    validation = ae.validation_loss_curve_
    assert np.isnan(validation[:3]).all()
    best = np.nanargmin(validation) + 1
    assert best > 3
    assert_allclose(disp.best_line_.get_xdata(), [best, best])


def test_loss_curve_marks_only_the_weights_kept(clusters):
    X, _ = clusters
    params = dict(n_components=2, hidden_layer_sizes=(8,), warm_start=True, random_state=0)
    ae = AutoencoderTransformer(max_iter=6, early_stopping=True, **params).fit(X)
    # A later fit without validation keeps its last epoch's weights: no marker.
    ae.set_params(early_stopping=False, max_iter=4).fit(X)
    assert LossCurveDisplay.from_estimator(ae).best_line_ is None
    # A later early-stopped fit: the marker is its best epoch, not an earlier fit's.
    ae.set_params(early_stopping=True, max_iter=5).fit(X)
    validation = np.asarray(ae.validation_loss_curve_)
    best = 11 + int(np.argmin(validation[10:]))
    assert_allclose(LossCurveDisplay.from_estimator(ae).best_line_.get_xdata(), [best, best])


def test_loss_curve_marks_the_last_of_consecutive_early_stopped_fits():
    # Noise overfits: the second warm fit never gets back to the first fit's best
    # validation loss, and it restores its own best epoch, not the first fit's.
    X = np.random.default_rng(0).standard_normal((120, 20))
    ae = AutoencoderTransformer(
        n_components=4,
        hidden_layer_sizes=(64,),
        alpha=0.0,
        early_stopping=True,
        warm_start=True,
        max_iter=30,
        learning_rate_init=0.02,
        random_state=0,
    )
    n_first = ae.fit(X).n_iter_
    ae.fit(X)
    validation = np.asarray(ae.validation_loss_curve_)
    assert np.nanmin(validation[:n_first]) < validation[n_first:].min()
    best = n_first + 1 + int(np.argmin(validation[n_first:]))
    assert validation[best - 1] == ae.best_validation_loss_
    disp = LossCurveDisplay.from_estimator(ae)
    assert_allclose(disp.best_line_.get_xdata(), [best, best])
    assert disp.best_line_.get_label() == f"best validation epoch ({best})"
    # The same from the arrays, given the kept loss.
    disp = LossCurveDisplay(
        ae.loss_curve_,
        ae.validation_loss_curve_,
        best_validation_loss=ae.best_validation_loss_,
    ).plot()
    assert_allclose(disp.best_line_.get_xdata(), [best, best])
    # A third fit without validation keeps its last epoch's weights: no marker.
    ae.set_params(early_stopping=False, max_iter=3).fit(X)
    assert LossCurveDisplay.from_estimator(ae).best_line_ is None


@pytest.mark.parametrize(
    "validation, best_validation_loss, best",
    [
        ([3.0, 1.0, 2.0, 4.0, 1.5, 2.5], None, 2),  # the smallest
        ([3.0, 1.0, 2.0, 4.0, 1.5, 2.5], 1.0, 2),
        ([3.0, 1.0, 2.0, 4.0, 1.5, 2.5], 1.5, 5),  # a later fit's best, above the first's
        ([3.0, 1.0, 2.0, 1.0, 4.0, 5.0], 1.0, 2),  # a tie: the first epoch reaching it
        ([np.nan, 0.5, np.nan, 3.0, 2.0, 2.5], 2.0, 5),  # after the last NaN only
    ],
)
def test_loss_curve_marks_the_epoch_of_the_kept_loss(validation, best_validation_loss, best):
    disp = LossCurveDisplay(
        np.ones(len(validation)), validation, best_validation_loss=best_validation_loss
    ).plot()
    assert disp.best_validation_loss == best_validation_loss
    assert_allclose(disp.best_line_.get_xdata(), [best, best])


def test_loss_curve_kept_loss_after_a_fit_without_validation():
    disp = LossCurveDisplay([3.0, 2.0, 1.0], [2.0, 1.5, np.nan], best_validation_loss=1.5)
    assert disp.plot().best_line_ is None


def test_loss_curve_without_validation(clusters):
    X, _ = clusters
    ae = AutoencoderTransformer(
        hidden_layer_sizes=(4,), max_iter=5, random_state=0, early_stopping=False
    ).fit(X)
    _, ax = plt.subplots()
    disp = LossCurveDisplay.from_estimator(ae, ax=ax, name="ae", linewidth=3)
    assert disp.ax_ is ax and disp.figure_ is ax.figure
    assert disp.validation_line_ is None and disp.best_line_ is None
    assert disp.line_.get_linewidth() == 3
    assert ax.get_title() == "ae"


def test_loss_curve_aligns_a_shorter_validation_curve():
    disp = LossCurveDisplay([4.0, 3.0, 2.0, 1.0], [1.5, 1.2]).plot()
    assert_array_equal(disp.validation_line_.get_xdata(), [3, 4])
    assert_allclose(disp.best_line_.get_xdata(), [4, 4])


@pytest.mark.parametrize(
    "loss, validation, match",
    [
        ([], None, "loss_curve must be a non-empty 1-D"),
        ([[1.0, 2.0]], None, "loss_curve must be a non-empty 1-D"),
        ([1.0], [], "validation_loss_curve must be a non-empty 1-D"),
        ([1.0], [1.0, 0.5], "more than loss_curve"),
    ],
)
def test_loss_curve_bad_input(loss, validation, match):
    with pytest.raises(ValueError, match=match):
        LossCurveDisplay(loss, validation).plot()


@pytest.mark.parametrize(
    "validation, best_validation_loss, match",
    [
        (None, 1.0, "best_validation_loss needs a validation_loss_curve"),
        ([2.0, 1.0, 3.0], 0.5, "best_validation_loss 0.5 is not the validation loss"),
        ([2.0, np.nan, 3.0], 2.0, "best_validation_loss 2.0 is not the validation loss"),
        ([2.0, 1.0, 3.0], "low", "best_validation_loss must be a real number"),
    ],
)
def test_loss_curve_bad_kept_loss(validation, best_validation_loss, match):
    disp = LossCurveDisplay([3.0, 2.0, 1.0], validation, best_validation_loss=best_validation_loss)
    with pytest.raises(ValueError, match=match):
        disp.plot()
    assert not plt.get_fignums()  # refused before a figure was made
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=match):
        disp.plot(ax=ax)
    assert not ax.lines  # nor anything drawn on the caller's axes


def test_loss_curve_needs_a_fitted_estimator_with_a_curve(clusters):
    X, _ = clusters
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(AutoencoderTransformer())
    with pytest.raises(ValueError, match="PCA records no loss_curve_"):
        LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), PCA(2)).fit(X))


# -- ReconstructionDisplay ------------------------------------------------------------------
def test_reconstruction_from_pipeline(digits_pipe, digits):
    disp = ReconstructionDisplay.from_estimator(digits_pipe, digits, n_images=5)
    assert disp.axes_.shape == disp.images_.shape == (2, 5)
    assert disp.bounding_ax_ is None
    assert disp.figure_ is disp.axes_[0, 0].figure
    expected = digits_pipe.inverse_transform(digits_pipe.transform(digits[:5]))
    for j in range(5):
        assert_allclose(disp.images_[0, j].get_array(), digits[j].reshape(8, 8))
        assert_allclose(disp.images_[1, j].get_array(), expected[j].reshape(8, 8))
    assert disp.axes_[0, 0].get_ylabel() == "original"
    assert disp.axes_[1, 0].get_ylabel() == "AutoencoderTransformer"
    # One grey scale for all: that of the originals.
    assert disp.images_[1, 0].get_clim() == (digits[:5].min(), digits[:5].max())


def test_reconstruction_draws_missing_entries_blank(digits):
    """An estimator that takes NaN gets a display of it: the missing pixels blank,
    the grey scale that of the observed ones; reconstructions must be finite."""
    X = digits[:5].copy()
    X[0, :8] = np.nan
    X[1, 3] = np.nan
    ae = AutoencoderTransformer(n_components=4, hidden_layer_sizes=(16,), max_iter=10)
    ae.set_params(random_state=0).fit(digits)
    disp = ReconstructionDisplay.from_estimator(ae, X, n_images=5)
    first = disp.images_[0, 0].get_array()
    assert np.ma.getmaskarray(first)[0].all() and not np.ma.getmaskarray(first)[1:].any()
    assert disp.images_[1, 0].get_clim() == (np.nanmin(X), np.nanmax(X))
    assert np.isfinite(disp.images_[1, 0].get_array()).all()
    ReconstructionDisplay(np.full((2, 4), np.nan), np.zeros((2, 4))).plot()  # nothing observed
    with pytest.raises(ValueError, match="Input reconstructions contains NaN"):
        ReconstructionDisplay(X, X).plot()


def test_reconstruction_rows_of_several_models(digits):
    originals = digits[:4]
    rows = [
        PCA(k).fit(digits).inverse_transform(PCA(k).fit(digits).transform(originals))
        for k in (2, 8)
    ]
    disp = ReconstructionDisplay(originals, rows, labels=["PCA(2)", "PCA(8)"]).plot(cmap="magma")
    assert disp.images_.shape == (3, 4)
    assert [ax.get_ylabel() for ax in disp.axes_[:, 0]] == ["original", "PCA(2)", "PCA(8)"]
    assert_allclose(disp.images_[2, 3].get_array(), rows[1][3].reshape(8, 8))
    assert disp.images_[0, 0].get_cmap().name == "magma"


@pytest.mark.parametrize(
    "as_given",
    [
        lambda X: X.tolist(),
        lambda X: tuple(tuple(row) for row in X.tolist()),
        lambda X: list(X),  # a list of 1-D rows
    ],
    ids=["nested list", "nested tuple", "list of rows"],
)
def test_reconstruction_rows_as_nested_sequence(digits, as_given):
    originals, reconstructions = digits[:3], digits[3:6]
    expected = ReconstructionDisplay(originals, reconstructions).plot()
    disp = ReconstructionDisplay(originals, as_given(reconstructions)).plot()
    assert disp.images_.shape == expected.images_.shape == (2, 3)
    assert [ax.get_ylabel() for ax in disp.axes_[:, 0]] == ["original", "reconstruction"]
    for got, want in zip(disp.images_.ravel(), expected.images_.ravel(), strict=True):
        assert_array_equal(got.get_array(), want.get_array())
        assert got.get_clim() == want.get_clim()
    disp = ReconstructionDisplay(originals, as_given(reconstructions), labels=["ae"]).plot()
    assert disp.axes_[1, 0].get_ylabel() == "ae"


def test_reconstruction_list_of_nested_lists(digits):
    originals = digits[:2]
    rows = [digits[2:4], digits[4:6]]
    disp = ReconstructionDisplay(originals, [r.tolist() for r in rows]).plot()
    assert disp.images_.shape == (3, 2)
    assert [ax.get_ylabel() for ax in disp.axes_[:, 0]] == [
        "original",
        "reconstruction 1",
        "reconstruction 2",
    ]
    assert_array_equal(disp.images_[2, 1].get_array(), rows[1][1].reshape(8, 8))


def test_reconstruction_splits_a_single_ax(digits_pipe, digits):
    fig, (left, right) = plt.subplots(1, 2)
    disp = ReconstructionDisplay.from_estimator(digits_pipe, digits, n_images=3, ax=right)
    assert disp.bounding_ax_ is right
    assert not right.axison
    assert disp.figure_ is fig
    assert all(ax.figure is fig for ax in disp.axes_.ravel())


def test_reconstruction_on_an_array_of_axes(digits):
    _, axes = plt.subplots(2, 3)
    disp = ReconstructionDisplay(digits[:3], digits[:3]).plot(ax=axes)
    assert disp.axes_ is axes or np.all(disp.axes_ == axes)
    with pytest.raises(ValueError, match=r"array of Axes of shape \(2, 4\)"):
        ReconstructionDisplay(digits[:4], digits[:4]).plot(ax=axes)


def test_reconstruction_on_the_1d_axes_of_one_image(digits):
    # plt.subplots(3, 1) squeezes to a 1-D array: one image above two reconstructions.
    _, column = plt.subplots(3, 1)
    disp = ReconstructionDisplay(digits[:1], [digits[1:2], digits[2:3]]).plot(ax=column)
    assert disp.axes_.shape == (3, 1)
    assert all(disp.axes_[i, 0] is column[i] for i in range(3))
    assert_array_equal(disp.images_[2, 0].get_array(), digits[2].reshape(8, 8))
    # Two images: a 1-D array of four Axes does not say which is which; refused as before.
    _, flat = plt.subplots(1, 4)
    with pytest.raises(ValueError, match=r"array of Axes of shape \(2, 2\)"):
        ReconstructionDisplay(digits[:2], digits[:2]).plot(ax=flat)
    # One image, the wrong number of Axes.
    _, column = plt.subplots(3, 1)
    with pytest.raises(ValueError, match=r"array of Axes of shape \(2, 1\), got shape \(3,\)"):
        ReconstructionDisplay(digits[:1], digits[1:2]).plot(ax=column)


def test_reconstruction_strip_for_non_image_rows(pipe, clusters):
    X, _ = clusters
    disp = ReconstructionDisplay.from_estimator(pipe, X, image_shape=(1, 10), n_images=2)
    assert disp.images_[0, 1].get_array().shape == (1, 10)


def test_reconstruction_from_dataframe_and_sparse(digits_pipe, digits):
    pd = pytest.importorskip("pandas")
    disp = ReconstructionDisplay.from_estimator(
        digits_pipe[-1], pd.DataFrame(digits_pipe[0].transform(digits)), n_images=2
    )
    assert disp.images_.shape == (2, 2)
    ae = digits_pipe[-1]
    disp = ReconstructionDisplay.from_estimator(ae, sp.csr_matrix(digits / 16), n_images=400)
    assert disp.images_.shape == (2, 300)  # at most n_samples
    # Formats that cannot be sliced by rows are taken too.
    for fmt in ("coo", "dia", "bsr"):
        sparse = sp.csr_matrix(digits[:5] / 16).asformat(fmt)
        disp = ReconstructionDisplay.from_estimator(ae, sparse, n_images=2)
        assert_allclose(disp.originals, digits[:2] / 16)
        assert disp.images_.shape == (2, 2)


@pytest.mark.parametrize(
    "originals, reconstructions, kwargs, match",
    [
        (np.zeros((2, 10)), np.zeros((2, 10)), {}, r"not square images; pass image_shape"),
        (np.zeros((2, 64)), np.zeros((2, 64)), {"image_shape": (4, 4)}, "height \\* width"),
        (np.zeros((2, 64)), np.zeros((2, 64)), {"image_shape": (64,)}, "height \\* width"),
        (np.zeros((2, 64)), np.zeros((3, 64)), {}, r"shape of originals, \(2, 64\)"),
        (np.zeros((2, 64)), [np.zeros((2, 64))] * 2, {"labels": ["a"]}, "1 labels for 2 rows"),
        (np.zeros((2, 64)), [[0.0] * 64] * 3, {}, r"shape of originals, \(2, 64\)"),
        (np.zeros((2, 64)), [[0.0] * 64, [0.0] * 63], {}, "reconstructions must be an array"),
        (np.zeros((2, 64)), [[[0.0] * 64, [0.0]]], {}, "reconstructions must be an array"),
        ([[0.0] * 64, [0.0] * 63], np.zeros((2, 64)), {}, "originals must be an array"),
        (np.zeros((2, 64)), [0.0] * 64, {}, "Expected 2D array, got 1D array"),
        (np.zeros((2, 64)), [np.zeros((2, 64)), np.zeros(64)], {}, "Expected 2D array"),
        (np.zeros((2, 64)), [], {}, "reconstructions is empty: pass an array"),
    ],
)
def test_reconstruction_bad_input(originals, reconstructions, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReconstructionDisplay(originals, reconstructions, **kwargs).plot()


@pytest.mark.parametrize("n_images", [0, -1, 2.5, True])
def test_reconstruction_bad_n_images(digits_pipe, digits, n_images):
    with pytest.raises(ValueError, match="n_images must be a positive integer"):
        ReconstructionDisplay.from_estimator(digits_pipe, digits, n_images=n_images)


def test_reconstruction_single_ax_must_be_a_subplot():
    fig = plt.figure()
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    with pytest.raises(ValueError, match="grid of subplots"):
        ReconstructionDisplay(np.zeros((2, 4)), np.zeros((2, 4))).plot(ax=ax)


def test_latent_space_kwargs_norm_and_c_and_unsortable_labels():
    """A norm of one's own is taken; c next to y, or labels that do not sort, are refused
    before a figure is made."""
    from matplotlib.colors import Normalize

    plt.close("all")
    codes = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 3
    norm = Normalize(0, 3)
    disp = LatentSpaceDisplay(codes, y).plot(norm=norm)
    assert disp.scatter_.norm is norm
    plt.close("all")
    with pytest.raises(ValueError, match="pass y=None to colour them with c"):
        LatentSpaceDisplay(codes, y).plot(c="red")
    with pytest.raises(ValueError, match=r"one type that sorts .* \['int', 'str'\]"):
        LatentSpaceDisplay(codes, np.array(["a", 1] * 15, dtype=object)).plot()
    assert plt.get_fignums() == []


@pytest.mark.parametrize("missing", [None, np.nan, "pd.NA", "categorical"])
def test_latent_space_says_which_labels_are_missing(missing):
    """Missing labels or values get one message, whatever marks them, before a figure
    is made (scikit-learn's own check of a float y warns of a cast on NaN first)."""
    codes = np.random.default_rng(0).normal(size=(30, 2))
    labels = ["a", "b", "c"] * 10
    if missing == "categorical":
        pd = pytest.importorskip("pandas")
        y = pd.Series(pd.Categorical(labels[:-2] + [None, None]))
    elif missing == "pd.NA":
        pd = pytest.importorskip("pandas")
        y = pd.Series(labels[:-2] + [pd.NA, pd.NA], dtype="string")
    else:
        y = np.array(labels[:-2] + [missing, missing], dtype=object)
    plt.close("all")
    with pytest.raises(ValueError, match=r"y holds 2 missing value\(s\) \(None, NaN or pd\.NA\)"
                       r": drop those samples, or give them a value of their own"):
        LatentSpaceDisplay(codes, y).plot()
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match=r"y holds 1 missing value\(s\)"):
        LatentSpaceDisplay(codes, np.r_[np.linspace(0, 1, 29), np.nan]).plot()


def test_many_classes_get_their_labels_on_the_colorbar():
    codes = np.random.default_rng(0).normal(size=(60, 2))
    y = np.array([f"c{i % 30:02d}" for i in range(60)])
    disp = LatentSpaceDisplay(codes, y).plot()
    labels = [t.get_text() for t in disp.colorbar_.ax.get_yticklabels()]
    assert labels[0] == "c00" and labels[-1] == "c29" and len(labels) == 10
    plt.close("all")


def test_reconstruction_display_refuses_a_bare_shape_or_label_and_shows_constant_originals():
    plt.close("all")
    X = np.random.default_rng(0).normal(size=(3, 16))
    with pytest.raises(ValueError, match="image_shape must be"):
        ReconstructionDisplay(X, X, image_shape=16).plot()
    for labels in ("model", "m"):
        with pytest.raises(ValueError, match="labels must be a list of names"):
            ReconstructionDisplay(X, X, labels=labels).plot()
    assert plt.get_fignums() == []
    disp = ReconstructionDisplay(X, X, image_shape=np.array([4, 4])).plot()
    assert disp.images_.shape[1] == 3
    # Constant originals still leave a colour range in which the reconstructions show.
    disp = ReconstructionDisplay(np.zeros((2, 16)), np.full((2, 16), 0.3)).plot()
    low, high = disp.images_[0, 0].get_clim()
    assert low < 0 < 0.3 < high
    huge = ReconstructionDisplay(np.full((2, 16), 1e17), X[:2]).plot()
    low, high = huge.images_[0, 0].get_clim()
    assert low < 1e17 < high
    # A norm of one's own is taken, as LatentSpaceDisplay takes it.
    from matplotlib.colors import Normalize

    norm = Normalize(-1, 1)
    assert ReconstructionDisplay(X, X).plot(norm=norm).images_[0, 0].norm is norm
    plt.close("all")


def test_displays_that_need_transform_refuse_a_detector_clearly():
    from skae import AutoencoderOutlierDetector

    X = np.random.default_rng(0).normal(size=(40, 16))
    detector = AutoencoderOutlierDetector(hidden_layer_sizes=(8,), max_iter=2).fit(X)
    with pytest.raises(TypeError, match="needs a transformer with transform; "
                       "AutoencoderOutlierDetector has no transform"):
        LatentSpaceDisplay.from_estimator(detector, X)
    with pytest.raises(TypeError, match="with transform and inverse_transform; "
                       "AutoencoderOutlierDetector has no transform"):
        ReconstructionDisplay.from_estimator(detector, X)


def test_displays_refuse_an_imputer_whose_transform_returns_data_not_codes():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skae import AutoencoderImputer, AutoencoderTransformer

    X = np.random.default_rng(0).normal(size=(40, 6))
    X[::5, 0] = np.nan
    imputer = AutoencoderImputer(n_components=2, hidden_layer_sizes=(8,), max_iter=2).fit(X)
    for display in (LatentSpaceDisplay, ReconstructionDisplay):
        for estimator in (imputer, make_pipeline(StandardScaler(), imputer)):
            with pytest.raises(TypeError, match="AutoencoderImputer.transform returns "
                               "imputed data, not codes") as info:
                display.from_estimator(estimator, X)
            assert "outlier detector" not in str(info.value)
    # What each message advises works.
    advised = make_pipeline(imputer, AutoencoderTransformer(2, max_iter=2)).fit(X)
    LatentSpaceDisplay.from_estimator(advised, X)
    with pytest.raises(TypeError, match=r"ae = AutoencoderTransformer\(\)\.fit\(imputer"):
        ReconstructionDisplay.from_estimator(imputer, X)
    imputed = imputer.transform(X)
    ae = AutoencoderTransformer(max_iter=2).fit(imputed)
    ReconstructionDisplay.from_estimator(ae, imputed, image_shape=(2, 3))
    plt.close("all")


def test_latent_space_keeps_a_categoricals_order(clusters, pipe):
    """A pandas categorical's classes come in its declared order, not sorted."""
    pd = pytest.importorskip("pandas")
    X, _ = clusters
    ae = pipe
    labels = np.array(["lo", "hi", "mid"])[np.arange(X.shape[0]) % 3]
    y = pd.Categorical(labels, categories=["lo", "mid", "hi", "unused"], ordered=True)
    disp = LatentSpaceDisplay.from_estimator(ae, X, y=y)
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == ["lo", "mid", "hi"]
    colour_index = np.asarray(disp.scatter_.get_array())
    assert_array_equal(colour_index[labels == "lo"], 0)
    assert_array_equal(colour_index[labels == "hi"], 2)
    plain = LatentSpaceDisplay.from_estimator(ae, X, y=labels)  # sorted, as before
    assert [t.get_text() for t in plain.ax_.get_legend().get_texts()] == ["hi", "lo", "mid"]


@pytest.mark.parametrize(
    "cmap, first_colours",
    [("Set2", 6), ("Set1", 6), ("Accent", 6), ("viridis", None), ("tab20", 6)],
)
def test_latent_space_a_colormap_of_ones_own_gives_each_class_its_colour(cmap, first_colours):
    """A qualitative map with a colour per class gives class i its i-th colour (Set2 and
    Set1 hold 8 and 9: their own size, not tab10's, sets the colours); a continuous
    map spreads the classes over its whole range."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    codes = np.random.default_rng(0).normal(size=(60, 2))
    y = np.repeat(np.arange(6), 10)
    disp = LatentSpaceDisplay(codes, y).plot(cmap=cmap)
    legend = [to_hex(h.get_color()) for h in disp.legend_.legend_handles]
    points = [to_hex(c) for c in disp.scatter_.to_rgba(disp.scatter_.get_array())[::10]]
    assert len(set(legend)) == 6 and legend == points
    own = colormaps[cmap]
    if first_colours:
        assert legend == [to_hex(own(i)) for i in range(first_colours)]
    else:  # evenly over the map: the first and last classes near its two ends
        assert legend[0] == to_hex(own(0.5 / 6)) and legend[-1] == to_hex(own(5.5 / 6))


@pytest.mark.parametrize("marker", ["o", "s", "x", "+", "1"])
def test_latent_space_draws_line_markers_too(marker):
    """Filled markers are drawn without an edge; line markers are all edge, so theirs
    stays (a width of 0 drew nothing). The legend shows the points' marker."""
    codes = np.random.default_rng(0).normal(size=(40, 2))
    disp = LatentSpaceDisplay(codes, np.repeat([0, 1], 20)).plot(marker=marker)
    filled = marker in ("o", "s")
    assert bool((np.asarray(disp.scatter_.get_linewidths()) == 0).all()) == filled
    assert all(h.get_marker() == marker for h in disp.legend_.legend_handles)
    disp = LatentSpaceDisplay(codes).plot(marker=marker, linewidths=2)  # one's own width
    assert_array_equal(disp.scatter_.get_linewidths(), [2])


def test_reconstruction_of_a_nullable_frame_draws_its_missing_entries_blank(digits):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(digits[:3]).astype("Float64")
    X.iloc[0, 3] = pd.NA
    ae = AutoencoderTransformer(n_components=4, hidden_layer_sizes=(16,), max_iter=5,
                                random_state=0).fit(digits)
    disp = ReconstructionDisplay.from_estimator(ae, X, n_images=3)
    as_nan = ReconstructionDisplay.from_estimator(ae, X.astype("float64"), n_images=3)
    first = disp.images_[0, 0].get_array()
    assert np.ma.getmaskarray(first).sum() == 1
    for ours, theirs in zip(disp.images_.ravel(), as_nan.images_.ravel(), strict=True):
        assert_array_equal(np.ma.filled(ours.get_array(), -1),
                           np.ma.filled(theirs.get_array(), -1))
    with pytest.raises(ValueError, match="(?i)string|numeric|convert"):
        ReconstructionDisplay(pd.DataFrame({"a": ["x", "y"]}), np.zeros((2, 1))).plot()
