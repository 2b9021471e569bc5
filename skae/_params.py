"""One flat parameter vector with named views, and its initialisation.

A :class:`Layout` lists named blocks (a name and a shape). Every block is a
contiguous slice of one flat vector, so that an optimizer updates all the
parameters with a dozen whole-vector operations, and the gradient, laid out the
same way, is one vector too. A block can also be declared as the transpose of
another (:meth:`Layout.tie`): it then takes no room of its own and its view is
``views[source].T``, which is how tied weights share their parameters.
"""

import math


class Layout:
    """Named blocks of one flat vector.

    Parameters
    ----------
    blocks : sequence of (str, tuple of int)
        Names and shapes of the stored blocks, in the order they are laid out.
    """

    def __init__(self, blocks):
        self.shapes = {}
        self.slices = {}
        self.ties = {}
        start = 0
        for name, shape in blocks:
            shape = tuple(int(s) for s in shape)
            stop = start + math.prod(shape)
            self.shapes[name] = shape
            self.slices[name] = slice(start, stop)
            start = stop
        self.size = start

    def tie(self, name, source):
        """Declare block ``name`` as the transpose of the stored block ``source``."""
        if source not in self.slices:
            raise KeyError(f"{source!r} is not a stored block")
        self.ties[name] = source

    def views(self, flat):
        """Name -> view of ``flat`` (tied blocks: the transposed view of their source)."""
        if flat.shape != (self.size,):
            raise ValueError(f"expected a flat vector of {self.size} values, got {flat.shape}")
        out = {name: flat[s].reshape(self.shapes[name]) for name, s in self.slices.items()}
        for name, source in self.ties.items():
            out[name] = out[source].T
        return out

    def span(self, names):
        """The one slice covering the stored blocks ``names``, which must be adjacent."""
        slices = sorted((self.slices[n] for n in names), key=lambda s: s.start)
        for a, b in zip(slices, slices[1:], strict=False):
            if a.stop != b.start:
                raise ValueError("blocks are not adjacent")
        return slice(slices[0].start, slices[-1].stop) if slices else slice(0, 0)


#: Weight initialisations, by name (see :meth:`skae._model.Network.initialize`).
INITS = ("he", "lecun")


def uniform_init(rng, W, *, he):
    """Fill ``W`` (fan_in, fan_out) in place: He-uniform if ``he`` else Glorot-uniform.

    He: ``U(±√(6/fan_in))``, for layers followed by ReLU-like units; Glorot:
    ``U(±√(6/(fan_in + fan_out)))``. ``rng`` is a ``numpy.random.Generator``.
    """
    fan_in, fan_out = W.shape
    bound = math.sqrt(6.0 / fan_in) if he else math.sqrt(6.0 / (fan_in + fan_out))
    W[...] = rng.uniform(-bound, bound, size=W.shape)



def lecun_init(rng, W, b, *, weights=True):
    """Fill ``W`` (fan_in, fan_out) and ``b`` (fan_out,) in place, scaled by ``fan_in``.

    Weights LeCun-uniform, ``U(±√(3/fan_in))`` (variance ``1/fan_in``), biases
    ``U(±1/√fan_in)`` as PyTorch draws them. The weights are √2 smaller than
    He's, so a deep ReLU network starts small and learns its features rather
    than fitting around random ones; the random biases put the units' kinks at
    different places across standardized data rather than all through the
    origin, which matters most for inputs of few features. With
    ``weights=False`` only ``b`` is drawn (a tied layer's weights are another
    layer's).
    """
    fan_in = W.shape[0]
    if weights:
        bound = math.sqrt(3.0 / fan_in)
        W[...] = rng.uniform(-bound, bound, size=W.shape)
    bound = 1.0 / math.sqrt(fan_in)
    b[...] = rng.uniform(-bound, bound, size=b.shape)
