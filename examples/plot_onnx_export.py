"""
=========================================
Deploying a pipeline with ONNX
=========================================

A fitted pipeline with a :class:`skvae.VAETransformer` in it converts to ONNX
with skl2onnx, once ``import skvae.onnx`` has registered skvae's converters.
The ONNX file runs in ONNX Runtime, without PyTorch or scikit-learn, and gives
the pipeline's outputs: here a scaler, a VAE and a logistic regression on the
breast-cancer table.
"""

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skvae.onnx  # noqa: F401  (registers the converters with skl2onnx)
from skvae import VAETransformer

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
pipeline = make_pipeline(
    StandardScaler(), VAETransformer(latent_dim=4, random_state=0), LogisticRegression()
).fit(X_train, y_train)

# %%
# Convert and run
# ---------------
# ``to_onnx`` takes a sample of the input to learn its type and width; float32
# is what the network computes in. ``zipmap=False`` keeps the probabilities an
# array rather than a list of dictionaries.

X_test = X_test.astype(np.float32)
onx = to_onnx(pipeline, X_test[:1], options={"zipmap": False})
session = onnxruntime.InferenceSession(onx.SerializeToString())
labels, probabilities = session.run(None, {"X": X_test})

print("labels that differ:", int((labels != pipeline.predict(X_test)).sum()))
print(
    "largest probability difference:",
    f"{np.abs(probabilities - pipeline.predict_proba(X_test)).max():.1e}",
)

# %%
# The latent coordinates
# ----------------------
# The pipeline's first two steps convert on their own too: the graph of the
# scaler and the encoder returns ``transform``'s posterior means.

(latents,) = onnxruntime.InferenceSession(
    to_onnx(pipeline[:-1], X_test[:1]).SerializeToString()
).run(None, {"X": X_test})
reference = pipeline[:-1].transform(X_test)
print(f"largest latent difference: {np.abs(latents - reference).max():.1e}")

fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(reference[:, 0], latents[:, 0], s=8)
ax.set(
    xlabel="transform, first latent (PyTorch)",
    ylabel="ONNX Runtime, first latent",
    title="The exported encoder gives the same latents",
)
plt.show()

# %%
# Saving it
# ---------
# ``onx.SerializeToString()`` is the file to ship, for example with
# ``open("pipeline.onnx", "wb").write(...)``. To keep the estimator itself in
# a smaller pickle, :meth:`~skvae.VAETransformer.drop_optimizer_state` drops
# the optimizer's state, which ``partial_fit`` and warm starts would use.
