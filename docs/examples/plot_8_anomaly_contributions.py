"""
=================================================
Which pixels make a digit anomalous
=================================================

:class:`~skae.AutoencoderOutlierDetector` flags samples its autoencoder
reconstructs badly, with scikit-learn's outlier-detector API: ``predict``
returns +1 for inliers and -1 for outliers, ``decision_function`` is negative
for outliers. :meth:`~skae.AutoencoderOutlierDetector.score_samples_per_feature`
splits each sample's score into one term per feature, so it also says *where*
a sample is anomalous.

We train on handwritten digits, then score new digits of which some were
scratched: a stroke drawn across the image. The scratched digits get the lowest
scores, and their per-pixel contributions light up along the stroke.
"""

# %%
# Digits, some of them scratched
# ------------------------------
# Pixels are scaled to [0, 1]. A quarter of the test digits get a scratch: a
# horizontal or vertical stroke of full intensity through a random row or column.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AutoencoderOutlierDetector

X, _ = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X / 16, test_size=0.25, random_state=0)

rng = np.random.RandomState(0)
scratched = rng.rand(len(X_test)) < 0.25
images = X_test.reshape(-1, 8, 8).copy()
for i in np.flatnonzero(scratched):
    line = rng.randint(1, 7)
    if rng.rand() < 0.5:
        images[i, line, :] = 1.0
    else:
        images[i, :, line] = 1.0
X_test = images.reshape(len(X_test), 64)

# %%
# The detector
# ------------
# Trained on the clean training digits; ``contamination=0.01`` puts the
# threshold at the 1 % quantile of the training scores. Early stopping on a
# held-out tenth of the rows keeps the example fast.
detector = AutoencoderOutlierDetector(
    contamination=0.01, early_stopping=True, random_state=0
).fit(X_train)
labels = detector.predict(X_test)
scores = detector.score_samples(X_test)
print(f"ROC AUC of the score for scratched digits: {roc_auc_score(scratched, -scores):.3f}")
print(f"flagged: {np.mean(labels[scratched] == -1):.0%} of the scratched digits, "
      f"{np.mean(labels[~scratched] == -1):.0%} of the others")

# %%
# The most anomalous digits and their per-pixel contributions
# -----------------------------------------------------------
# Top row: the eight test digits with the lowest scores (red title: scratched).
# Bottom row: minus their per-pixel contributions, each pixel's share of the
# reconstruction error (bright: badly reconstructed); the 64 values of a digit
# sum to minus its score.
contributions = -detector.score_samples_per_feature(X_test)
assert np.allclose(contributions.sum(axis=1), -scores)
worst = np.argsort(scores)[:8]
fig, axes = plt.subplots(2, 8, figsize=(11, 3.2), layout="constrained")
for column, i in enumerate(worst):
    axes[0, column].imshow(X_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[0, column].set_title(f"{scores[i]:.3f}", color="red" if scratched[i] else "black")
    axes[1, column].imshow(contributions[i].reshape(8, 8), cmap="magma")
for ax in axes.ravel():
    ax.set(xticks=[], yticks=[])
axes[0, 0].set_ylabel("digit")
axes[1, 0].set_ylabel("contribution")
fig.suptitle("Lowest scores (title) and where their error lies")
plt.show()
