"""The guided start (``init="isomap"``): the network learns an Isomap embedding first.

A random start on a curved low-dimensional manifold (a Swiss roll, an S-curve)
often ends in a folded code: the encoder maps distant parts of the manifold to
nearby codes, and no amount of further training unfolds it. Isomap unrolls such
manifolds by their geodesic distances. The guided start trains the network's
two halves on an Isomap embedding of (a subsample of) the training rows before
the whole network trains as usual: the encoder by regression of the rows onto
the embedding, then the decoder by regression of the encoder's codes onto the
rows, each by minibatch Adam in NumPy on the host (also for the Array API
engine, which copies the guided weights to its device), from the random initial
weights of the start. Only the first start of a fit is guided, once.

The embedding is computed from at most :data:`GUIDE_ROWS` rows (from more,
drawn in proportion to the sample weights; the embedding and the regressions
themselves are unweighted) with :data:`GUIDE_NEIGHBORS` neighbours and
scikit-learn's :class:`~sklearn.manifold.Isomap` with its dense eigensolver (so
that a fit reproduces bit for bit) of the distinct rows (identical rows share
their code), centred and scaled to unit variance overall (the embedding's
proportions are kept). Where Isomap cannot embed the rows, the start stays
random.

The whole network's training from a guided start warms its rate up over the first
:data:`GUIDE_WARMUP_EPOCHS` epoch (:func:`warmup_steps`; see :mod:`skae._optim`): at
full rate, Adam's first steps move every weight by about the rate, which at larger
rates undid the unrolled embedding.
"""

import warnings

import numpy as np

from ._model import Network
from ._objectives import LOSSES
from ._optim import Adam

#: Most training rows the embedding and the guided regressions use.
GUIDE_ROWS = 2000

#: Fewest training rows ``init="auto"`` guides a start from: below, it starts at random.
GUIDE_MIN_ROWS = 100

#: Widest code ``init="auto"`` guides. Folding is a failure of narrow codes: on the
#: benchmarks the guided start unrolled 2-D codes of curved manifolds (and gained 10 %
#: on a 3-D manifold to 3 dimensions), but brought nothing to codes of 5 to 16
#: dimensions (digits, breast cancer, a 5-D manifold in 100-D) for its cost.
GUIDE_MAX_COMPONENTS = 3

#: Largest dense copy of the guide's rows ``init="auto"`` makes (rows × features × 8,
#: in bytes; sparse rows are copied dense): wider data start at random.
GUIDE_MAX_BYTES = 2**28

#: Neighbours of Isomap's graph.
GUIDE_NEIGHBORS = 10

#: Most pieces of that graph a guided start embeds. Isomap joins the pieces pair by
#: pair (a second for 2,000 rows in 20 pieces, four in 100); a graph of many pieces
#: is clumps, not the curved sheet the guided start is for.
GUIDE_MAX_PIECES = 20

#: Passes over the subsample for each half's regression, and the minibatch size: on
#: the benchmark's manifolds 25 passes of 128 rows unroll them as well as 100 of 64, at
#: an eighth of the steps (``benchmarks/compare.py``'s splits, one start).
GUIDE_EPOCHS = 25
GUIDE_BATCH_SIZE = 128

#: Epochs of the whole network's training from a guided start over which the rate
#: rises linearly to ``learning_rate_init``. On the benchmark's 2-D manifolds (six
#: splits each, ELU units) at ``learning_rate_init=5e-3``, a start without it lost the
#: unrolled sheet on 4 of 6 Swiss-roll and 3 of 6 S-curve splits, with it on none; at the
#: default rate the comparison's guided fits moved by -3 % to +15 % per split.
GUIDE_WARMUP_EPOCHS = 1


def warmup_steps(source):
    """Adam's ``warmup_steps`` after a guided start: the steps of :data:`GUIDE_WARMUP_EPOCHS`.

    ``source``: the training minibatches (``n_rows`` and ``batch_size``).
    """
    return GUIDE_WARMUP_EPOCHS * -(-source.n_rows // source.batch_size)


def guide_rows(rows, weights, rng):
    """At most :data:`GUIDE_ROWS` of ``rows``, drawn in proportion to ``weights`` (sorted).

    Unit weights draw what no weights draw (both pass the probabilities: numpy
    draws otherwise without them).
    """
    if rows.size <= GUIDE_ROWS:
        return rows
    w = np.ones(rows.size) if weights is None else np.asarray(weights[rows], dtype=np.float64)
    return np.sort(rng.choice(rows, size=GUIDE_ROWS, replace=False, p=w / w.sum()))


def isomap_embedding(X, n_components):
    """The rows' Isomap embedding, centred and scaled to unit variance, or why there is none.

    ``X`` is a dense float array of at least ``GUIDE_NEIGHBORS + 1`` rows.
    Isomap embeds the distinct rows (in the order they first occur), and
    identical rows share their code: copies of a row would otherwise fill its
    neighbourhood and cut the graph into pieces. Returns ``(Z, None)``, or
    ``(None, reason)`` where Isomap cannot embed the rows (distances beyond the
    float range; too few distinct rows for the graph; a graph in more than
    :data:`GUIDE_MAX_PIECES` pieces; a kernel with large negative eigenvalues,
    as with nearly as many components as rows) or the embedding is degenerate
    (all rows in one point). A graph in fewer pieces is joined by Isomap itself
    (its warning is not the caller's concern: the guided start is only a start).
    """
    from scipy.sparse import SparseEfficiencyWarning
    from scipy.sparse.csgraph import connected_components
    from sklearn import config_context
    from sklearn.manifold import Isomap
    from sklearn.neighbors import kneighbors_graph

    with np.errstate(over="ignore", invalid="ignore"):
        # A geodesic distance is at most n edges of at most twice the largest norm.
        largest = 4.0 * X.shape[0] ** 2 * np.max(np.einsum("ij,ij->i", X, X))
    if not np.isfinite(largest):
        return None, "the rows' squared distances overflow (scale the data)"
    _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    distinct = X[first[order]] if first.size < X.shape[0] else X
    if distinct.shape[0] == 1:
        return None, "all rows are a single point"
    if distinct.shape[0] <= max(GUIDE_NEIGHBORS, n_components):
        return None, (
            f"only {distinct.shape[0]} distinct rows, too few for Isomap's graph of "
            f"{GUIDE_NEIGHBORS} neighbours and {n_components} components"
        )
    pieces = connected_components(
        kneighbors_graph(distinct, GUIDE_NEIGHBORS), directed=False, return_labels=False
    )
    if pieces > GUIDE_MAX_PIECES:
        return None, (
            f"the rows' graph of {GUIDE_NEIGHBORS} neighbours falls into {pieces} separate "
            f"pieces (more than {GUIDE_MAX_PIECES}: clumps, not a manifold)"
        )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # Isomap joins the pieces with a UserWarning, scipy's on the graph's edit;
            # floating-point trouble shows in the embedding, checked below.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", SparseEfficiencyWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            # Plain arrays, whatever the caller's set_config(transform_output=...).
            with config_context(transform_output="default"):
                Z = Isomap(
                    n_neighbors=GUIDE_NEIGHBORS, n_components=n_components, eigen_solver="dense"
                ).fit_transform(distinct)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return None, f"Isomap failed ({exc})"
    Z = np.array(Z, dtype=np.float64)  # a copy in Isomap's memory order: the mean's sums
    if distinct.shape[0] < X.shape[0]:
        Z = Z[position[inverse.reshape(-1)]]
    Z -= Z.mean(axis=0)
    scale = float(np.sqrt(np.mean(Z * Z)))
    if not np.isfinite(scale):
        return None, "Isomap's embedding is not finite (scale the data)"
    spread = float(np.sqrt(np.mean((distinct - distinct.mean(axis=0)) ** 2)))
    if scale <= 1e-12 * spread:
        return None, "the rows' embedding is a single point"
    return Z / scale, None


def guided_start(model, X, Z, rng, learning_rate, loss):
    """Train ``model``'s encoder on ``X → Z``, then its decoder on codes ``→ X``, in place.

    ``model`` is an untied :class:`~skae._model.Network` holding its random
    initial weights; ``X`` the (dense, finite) subsample and ``Z`` its
    embedding. The decoder learns with the model's ``loss``. The halves train
    on copies of the weights: if a regression ends with a non-finite loss or
    weight, ``model`` keeps its random start and this returns False.
    """
    X = np.ascontiguousarray(X, dtype=model.dtype)
    Z = np.ascontiguousarray(Z, dtype=model.dtype)
    k = model.n_encoder_layers
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        encoder = _half(model, 0, k)
        if not _regress(encoder, X, Z, rng, learning_rate, "squared_error"):
            return False
        decoder = _half(model, k, model.n_layers)
        if not _regress(decoder, encoder.raw_output(X), X, rng, learning_rate, loss):
            return False
    for half, first in ((encoder, 0), (decoder, k)):
        for i, (W, b) in enumerate(zip(half.coefs, half.intercepts, strict=True)):
            model.coefs[first + i][...] = W
            model.intercepts[first + i][...] = b
    return True


def _half(model, start, stop):
    """Layers ``[start, stop)`` of ``model`` as a network of their own (copies)."""
    sizes = model.layer_sizes[start : stop + 1]
    half = Network(sizes, len(sizes) - 1, model.activation, dtype=model.dtype)
    for i in range(start, stop):
        half.coefs[i - start][...] = model.coefs[i]
        half.intercepts[i - start][...] = model.intercepts[i]
    return half


def _regress(network, inputs, targets, rng, learning_rate, loss):
    """:data:`GUIDE_EPOCHS` epochs of minibatch Adam on ``loss(network(inputs), targets)``.

    Returns False as soon as a minibatch's loss or the weights are not finite
    (the start is then left random), else True.
    """
    # The loss's own gradient, without the training objective's penalties.
    loss_gradient = LOSSES[loss][0]
    optimizer = Adam(network.params, learning_rate=learning_rate)
    n = inputs.shape[0]
    batch_size = min(GUIDE_BATCH_SIZE, n)
    ws = network.workspace(batch_size)  # full minibatches only: one workspace
    work = np.empty_like(ws.activations[-1])
    for _ in range(GUIDE_EPOCHS):
        order = rng.permutation(n)
        for first in range(0, n - batch_size + 1, batch_size):
            rows = order[first : first + batch_size]
            ws.bind_inputs(inputs[rows])
            network.forward(ws)
            if not np.isfinite(loss_gradient(ws.activations[-1], targets[rows], None, work)):
                return False
            network.backward(ws)
            optimizer.step(network.grad)
    return bool(np.all(np.isfinite(network.params)))
