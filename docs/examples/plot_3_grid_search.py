"""
====================================================
Choosing n_components and the network by grid search
====================================================

:meth:`~skae.AutoencoderTransformer.score` is the negative mean reconstruction
error, higher is better, so :class:`~sklearn.model_selection.GridSearchCV` can
tune an autoencoder with no ``scoring`` argument, even as the last step of a
:class:`~sklearn.pipeline.Pipeline` (the pipeline's ``score`` hands the scaled
data to it). Here the data lie on a 3-D manifold curved through 20 dimensions;
we search the width of the code and the hidden layers, and look at where the
cross-validated error stops improving.
"""

# %%
# The data and the search
# -----------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer
from skae.datasets import make_embedded_manifold

X, latent = make_embedded_manifold(600, n_features=20, n_latent=3, random_state=0)

pipe = make_pipeline(
    StandardScaler(),
    AutoencoderTransformer(early_stopping=True, max_iter=1000, random_state=0),
)
param_grid = {
    "autoencodertransformer__n_components": [1, 2, 3, 4, 6],
    "autoencodertransformer__hidden_layer_sizes": [(16,), (64, 32)],
}


# %%
# A wider code can represent everything a narrower one can, so the best score
# tends to go to the widest code (nothing guarantees it under minibatch training
# with a fixed epoch budget and an L2 penalty), though past the manifold's
# dimension the extra width buys little. To prefer the simplest good model,
# ``refit`` picks the narrowest code whose mean error is at most twice the best
# one. (The folds agree so closely here that the usual rule, within one standard
# deviation of the best, would keep the widest code.)
def narrowest_code_close_to_the_best(cv_results):
    error = -cv_results["mean_test_score"]
    candidates = np.flatnonzero(error <= 2 * error.min())
    widths = np.asarray(cv_results["param_autoencodertransformer__n_components"], dtype=int)
    return candidates[np.argmin(widths[candidates])]


search = GridSearchCV(pipe, param_grid, cv=3, refit=narrowest_code_close_to_the_best).fit(X)
print(search.best_params_)

# %%
# The mean test score
# -------------------
# One line per network, with the standard deviation over the folds. The error
# drops steeply while the code is narrower than the manifold, and little after:
# a good ``n_components`` is where the curve flattens.
results = search.cv_results_
widths = np.asarray(results["param_autoencodertransformer__n_components"], dtype=int)
hidden = np.asarray([str(h) for h in results["param_autoencodertransformer__hidden_layer_sizes"]])
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for layers in np.unique(hidden):
    rows = hidden == layers
    ax.errorbar(
        widths[rows],
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        marker="o",
        capsize=3,
        label=f"hidden_layer_sizes={layers}",
    )
ax.axvline(latent.shape[1], color="0.5", linestyle=":", label="manifold dimension")
ax.set(xlabel="n_components", ylabel="mean test score (−MSE)")
ax.legend()
plt.show()
