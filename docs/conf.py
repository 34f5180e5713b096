"""Sphinx configuration of the skvae documentation.

Build it with ``make docs``; the pages land in ``docs/_build/html``.
"""

import re
import sys
from pathlib import Path

# The gallery resolves the names that examples import, IterativeImputer among
# them, which scikit-learn only exposes once its experimental flag is imported.
from sklearn.experimental import enable_iterative_imputer  # noqa: F401

import skvae

# The gallery's sort key lives next to this file (see _gallery_order.py).
sys.path.insert(0, str(Path(__file__).parent))

project = "skvae"
author = "skvae developers"
copyright = "skvae developers"
version = release = skvae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax copied into the site, so that equations render offline.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"
autodoc_inherit_docstrings = True
# autodoc documents each method under its class; no second list of them.
numpydoc_show_class_members = False
numpydoc_attributes_as_param_list = True

# Methods that every scikit-learn estimator inherits for metadata routing, and
# set_output: their docstrings are scikit-learn's and point into its own site.
# The user guide says how to use set_output with skvae.
_SCIKIT_LEARN_PLUMBING = re.compile(r"set_\w+_request|get_metadata_routing|set_output")


def _skip_scikit_learn_plumbing(app, what, name, obj, skip, options):
    return True if _SCIKIT_LEARN_PLUMBING.fullmatch(name) else None


def setup(app):
    """Connect the skipping of scikit-learn's plumbing to autodoc."""
    app.connect("autodoc-skip-member", _skip_scikit_learn_plumbing)


# -- Links to other projects' documentation ----------------------------------

# The build must pass without a network: a project whose inventory cannot be
# fetched gives one warning and its names render as plain code.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
}
intersphinx_timeout = 5

# -- Gallery -----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Every examples/plot_*.py is run and shown; other files there are not.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"^(?!plot_)",
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "doc_module": ("skvae",),
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    # its page of computation times loads jQuery and DataTables from CDNs
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skvae {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
# No left sidebar: the top bar holds the sections, and the pages are short
# enough that the right-hand table of contents is the navigation they need.
html_sidebars = {"**": []}
toc_object_entries_show_parents = "hide"
html_show_sourcelink = True
