"""The order of the examples in the gallery: from first use to the details."""

ORDER = [
    "plot_quickstart.py",
    "plot_latent_map.py",
    "plot_latent_dim_selection.py",
    "plot_generation.py",
    "plot_outlier_detection.py",
    "plot_likelihoods.py",
    "plot_mixed_table.py",
    "plot_impute_table.py",
    "plot_streaming_table.py",
    "plot_conditional_digits.py",
    "plot_conditional_covariate.py",
    "plot_sparse_counts.py",
    "plot_recommend_films.py",
    "plot_training_curves.py",
    "plot_onnx_export.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery: examples in ``ORDER``, any others after."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Position of ``filename``, then its name for examples not listed."""
        name = str(filename)
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self):
        return "ExampleOrder"
