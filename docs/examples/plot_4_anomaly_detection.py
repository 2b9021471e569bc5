"""
====================================
Anomaly detection with score_samples
====================================

An autoencoder trained on data reconstructs data like it well and anything else
badly, so the reconstruction error of a sample is an anomaly score:
:meth:`~skae.AutoencoderTransformer.score_samples` returns minus that error
(higher is more normal, as for scikit-learn's outlier detectors).

The normal data lie on a curved 2-D manifold in 20 dimensions. The anomalies
are built to fool a linear model: each is the midpoint of two random normal
samples. It lies between normal data, inside their range on every feature, but
off the curved sheet, on a chord across it. We inject 5% of them, train on the
contaminated data without labels, and compare the autoencoder's score with
PCA's reconstruction error on a ROC curve.
"""

# %%
# Data with injected anomalies
# ----------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import RocCurveDisplay
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import make_embedded_manifold

rng = np.random.RandomState(0)
X_normal, _ = make_embedded_manifold(1000, n_features=20, n_latent=2, random_state=0)
n_anomalies = 50
first, second = rng.randint(len(X_normal), size=(2, n_anomalies))
X_anomalies = (X_normal[first] + X_normal[second]) / 2
X = np.vstack([X_normal, X_anomalies])
is_anomaly = np.r_[np.zeros(len(X_normal)), np.ones(n_anomalies)].astype(bool)

# %%
# Scores
# ------
# Both models are fitted on all the data, anomalies included: no labels are
# used. The anomaly score is the reconstruction error, minus ``score_samples``.
autoencoder = make_pipeline(
    StandardScaler(),
    AutoencoderTransformer(n_components=2, early_stopping=True, random_state=0),
).fit(X)
pca = make_pipeline(StandardScaler(), PCA(n_components=2)).fit(X)

X_scaled = autoencoder[0].transform(X)
ae_score = -autoencoder[-1].score_samples(X_scaled)
pca_score = np.mean(
    (X_scaled - pca[-1].inverse_transform(pca[-1].transform(X_scaled))) ** 2, axis=1
)

# %%
# How the scores separate the anomalies
# -------------------------------------
# Left, the distribution of the autoencoder's score for normal samples and
# anomalies; right, the ROC curves of both scores (the higher the area under
# the curve, the better the ranking; 0.5 is chance). PCA's residual is linear:
# the residual of a midpoint is the mean of two normal residuals, so PCA sees
# the anomalies as at least as normal as the data, and ranks them worse than
# chance. The autoencoder's error follows the curvature of the manifold.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
bins = np.geomspace(ae_score.min(), ae_score.max(), 40)
left.hist(ae_score[~is_anomaly], bins=bins, alpha=0.7, density=True, label="normal")
left.hist(ae_score[is_anomaly], bins=bins, alpha=0.7, density=True, label="anomaly")
left.set(xscale="log", xlabel="reconstruction error (−score_samples)", ylabel="density")
left.legend()

RocCurveDisplay.from_predictions(is_anomaly, ae_score, name="skae", ax=right)
RocCurveDisplay.from_predictions(
    is_anomaly, pca_score, name="PCA", ax=right, plot_chance_level=True
)
right.set_title("Anomalies ranked by reconstruction error")
plt.show()
