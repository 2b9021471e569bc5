"""
=============================================
Denoising digits with a denoising autoencoder
=============================================

A plain autoencoder learns to reconstruct its input; a denoising one
(``noise="masking"`` here) sees its training rows with a random quarter of the
pixels wiped out, afresh for every minibatch, and learns to reconstruct the
*clean* rows. On held-out digits with a quarter of the pixels wiped out, we
compare what each model makes of them, as images and by the mean squared error
against the clean digits. The other variants (``sparsity``, ``contraction``,
``tied_weights``) are measured in :doc:`/variants`.
"""

# %%
# Data and corruption
# -------------------
# The pixels are standardized on the training part, so setting a pixel to 0
# replaces it with its average over the training digits. The held-out
# corruption comes from its own generator, never seen in training; split and
# draw are those of the first seed of ``benchmarks/variants.py``.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

X, _ = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

rng = np.random.default_rng([0, 1])
X_masked = np.where(rng.random(X_test.shape) < 0.25, 0.0, X_test)

# %%
# Two autoencoders
# ----------------
# The same network, ReLU units, 16 codes, one start and the same fixed budget of
# 400 epochs each, as in the measurements of the variants page: the stopping rule is switched off,
# so that both models train alike, and the warning that the budget ran out is
# expected. Both train on all the training rows (a plain fit would otherwise
# hold some out).
warnings.filterwarnings("ignore", category=ConvergenceWarning)
params = dict(
    n_components=16,
    activation="relu",
    n_init=1,
    max_iter=400,
    n_iter_no_change=400,
    early_stopping=False,
    random_state=0,
)
models = {
    "plain": AutoencoderTransformer(**params).fit(X_train),
    "denoising": AutoencoderTransformer(noise="masking", noise_level=0.25, **params).fit(X_train),
}


def reconstruct(model, X):
    return model.inverse_transform(model.transform(X))


def mse(X, X_hat):
    return np.mean((X - X_hat) ** 2)


# %%
# Errors on all 450 held-out digits
# ---------------------------------
# Each model reconstructs the masked digits; the error is taken against the
# clean ones. The cost of denoising is the error on clean input, where the
# plain model is better. The masked input itself, read as its own
# reconstruction, is a reference: it is exact on the three quarters of the
# pixels that were kept, which no 16-number code of 64 pixels is.
print(f"masked input as is:             MSE {mse(X_test, X_masked):.3f}")
for name, model in models.items():
    print(
        f"{name:>9}: from masked input MSE {mse(X_test, reconstruct(model, X_masked)):.3f}, "
        f"from clean input {mse(X_test, reconstruct(model, X_test)):.3f}"
    )

# %%
# What the models make of masked digits
# -------------------------------------
# Eight held-out digits, in pixel intensities (the scaling undone): the masked
# input, the plain and the denoising autoencoder's reconstructions of it, and
# the clean original.
rows = {
    "masked input": X_masked[:8],
    "plain": reconstruct(models["plain"], X_masked[:8]),
    "denoising": reconstruct(models["denoising"], X_masked[:8]),
    "clean original": X_test[:8],
}
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 4.6), layout="constrained")
for ax_row, (label, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(ax_row, scaler.inverse_transform(images), strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set(xticks=[], yticks=[])
    ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center")
plt.show()

# %%
# The denoising model redraws more of the strokes that the masking broke,
# where the plain model keeps more of the grey of the wiped-out pixels; it pays
# for it on clean digits, where it no longer copies every pixel it is given. Over five splits
# (:doc:`/variants`), its error from masked digits is 0.93× the plain model's,
# lower on every split, and its error from clean digits 1.47×.
