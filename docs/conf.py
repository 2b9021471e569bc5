"""Sphinx configuration of the skae documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html``. The build
needs no network: cross-references to scikit-learn, NumPy, SciPy and matplotlib
through intersphinx are only fetched when ``SKAE_DOCS_INTERSPHINX=1`` is set.
Without it, references to scikit-learn objects and glossary terms still link to
scikit-learn's site (see ``_link_to_sklearn``); others render as plain code.
"""

import os
import re
import sys
from pathlib import Path

from docutils import nodes

# Build from a checkout even when skae is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits

import skae

# The gallery trains small networks on small arrays, where several BLAS threads
# cost more than they bring (much more on a busy machine): use one.
threadpool_limits(limits=1)

# -- Project --------------------------------------------------------------------------------
project = "skae"
author = "The skae developers"
copyright = "The skae developers"
release = version = skae.__version__

# -- General --------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
# examples/ is the gallery's source: sphinx-gallery renders it into auto_examples/.
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
default_role = "literal"

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

extlinks = {"arxiv": ("https://arxiv.org/abs/%s", "arXiv:%s")}

SKLEARN = "https://scikit-learn.org/stable"
intersphinx_mapping = {}
if os.environ.get("SKAE_DOCS_INTERSPHINX", "0") not in ("", "0"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": (SKLEARN, None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

# -- Gallery --------------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skae",),
    "reference_url": {"skae": None},
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
}

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skae {version}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False


# -- Hooks ----------------------------------------------------------------------------------
def _skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing setters (``set_*_request``)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


_SHAPE = re.compile(r"\bof shape \(([^)]*)\)")
_BARE_ATTRIBUTE = re.compile(r"(?<![`\w])(\w+_)(?![`\w])")


def _quote_attributes_in_shapes(app, what, name, obj, options, lines):
    """Quote fitted attributes in shapes: ``of shape (n_samples, n_features_in_)``.

    A word ending in ``_`` is reST syntax for a link, so such a shape in a
    numpydoc type line would fail the build; quoting it renders it as code.
    """

    def quote(match):
        return "of shape ({})".format(_BARE_ATTRIBUTE.sub(r"`\1`", match.group(1)))

    for i, line in enumerate(lines):
        lines[i] = _SHAPE.sub(quote, line)


def _link_to_sklearn(app, env, node, contnode):
    """Resolve what intersphinx did not: scikit-learn objects and glossary terms.

    A last resort, so that an offline build still links the names scikit-learn
    users look for: ``sklearn.x.Name`` to its generated page, a glossary term to
    the glossary. Anything else stays unresolved, as plain text.
    """
    domain, reftype = node.get("refdomain"), node.get("reftype")
    target = node.get("reftarget", "")
    if domain == "std" and reftype == "term":
        url = f"{SKLEARN}/glossary.html#term-{target.strip().replace(' ', '-')}"
    elif domain == "py" and target.startswith("sklearn."):
        parts = target.split(".")
        if reftype == "mod":
            url = f"{SKLEARN}/api/{target}.html"
        else:
            # A class or function has its own page; a method is an anchor on its class's.
            end = next((i + 1 for i, part in enumerate(parts) if part[:1].isupper()), len(parts))
            url = f"{SKLEARN}/modules/generated/{'.'.join(parts[:end])}.html"
            if end < len(parts):
                url += f"#{target}"
    else:
        return None
    reference = nodes.reference("", "", internal=False, refuri=url, reftitle=target)
    reference.append(contnode)
    return reference


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    # Before numpydoc (priority 500) parses the docstrings.
    app.connect("autodoc-process-docstring", _quote_attributes_in_shapes, priority=400)
    # After intersphinx (priority 500), which wins when it is enabled.
    app.connect("missing-reference", _link_to_sklearn, priority=900)
