"""
========================================
Autoencoder codes as classifier features
========================================

An :class:`~skae.AutoencoderTransformer` is a transformer like
:class:`~sklearn.decomposition.PCA`, so its codes can feed a classifier in the
same :class:`~sklearn.pipeline.Pipeline`. The autoencoder is trained without
labels; only the classifier sees them. On the digits, we compare the test
accuracy of a nearest-neighbours classifier on the codes of skae and of PCA as
the code widens, with the accuracy on all 64 pixels as a reference.
"""

# %%
# The pipelines
# -------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)


def accuracy(reducer):
    steps = [StandardScaler(), reducer] if reducer is not None else [StandardScaler()]
    pipe = make_pipeline(*steps, KNeighborsClassifier(n_neighbors=5))
    return pipe.fit(X_train, y_train).score(X_test, y_test)


widths = [2, 4, 8]
scores = {
    "skae": [
        accuracy(AutoencoderTransformer(n_components=k, early_stopping=True, random_state=0))
        for k in widths
    ],
    "PCA": [accuracy(PCA(n_components=k)) for k in widths],
}
all_pixels = accuracy(None)
for name, values in scores.items():
    print(name, " ".join(f"{k}: {v:.3f}" for k, v in zip(widths, values, strict=True)))
print(f"all 64 pixels: {all_pixels:.3f}")

# %%
# Test accuracy against the width of the code
# -------------------------------------------
# The codes of both reducers lose accuracy against the raw pixels, less so as
# the code widens. Where the autoencoder helps most is the narrowest codes, in
# which its nonlinear map keeps more neighbourhoods than a projection can. It is
# trained to reconstruct the pixels, not to separate the classes, so a wider
# code need not serve a classifier better than PCA's: to choose, search
# ``n_components`` in a :class:`~sklearn.model_selection.GridSearchCV` over the
# whole pipeline, with the classifier's accuracy as the score.
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for (name, values), marker in zip(scores.items(), ["o-", "s--"], strict=True):
    ax.plot(widths, values, marker, label=name)
ax.axhline(all_pixels, color="0.5", linestyle=":", label="all 64 pixels")
ax.set_xscale("log", base=2)
ax.set_xticks(widths, labels=[str(k) for k in widths])
ax.set(xlabel="n_components", ylabel="test accuracy", ylim=(0, 1.02))
ax.legend(loc="lower right")
plt.show()
