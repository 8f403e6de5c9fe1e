# Sphinx configuration for the minuet documentation.
#
# The build is fully offline: no intersphinx inventory is downloaded, and
# references to other packages' objects are listed in ``nitpick_ignore_regex``
# instead of being resolved remotely. The pages load nothing from the network
# either: MathJax is copied into the build (sphinx-mathjax-offline), and
# ``docs/check_offline.py`` checks the built HTML for remote references.

import datetime
import os
import warnings
from importlib import metadata

from sphinx_astropy.conf.v2 import *  # noqa: F403
from sphinx_astropy.conf.v2 import exclude_patterns, extensions

project = "minuet"
author = "The minuet developers"
copyright = f"{datetime.date.today().year}, {author}"

try:
    release = metadata.version("minuet")
except metadata.PackageNotFoundError:  # building from a bare source tree
    release = "0.0.0"
version = release.split("+")[0]

extensions = [ext for ext in extensions if ext != "sphinx.ext.intersphinx"]
extensions += ["sphinx_gallery.gen_gallery", "sphinx-mathjax-offline", "sphinxarg.ext"]
intersphinx_mapping = {}

# generated tables are pulled into pages with ``.. include::``, never built on their own
exclude_patterns = [*exclude_patterns, "_build", "**.ipynb_checkpoints", "auto_examples/**.ipynb",
                    "auto_examples/**.py", "auto_examples/**.zip", "sg_execution_times.rst",
                    "validation/generated/*"]

# The top bar lists the root page's toctree: user guide, recipes, API,
# validation and reference, all five without a "More" menu.
html_theme_options = {
    "github_url": None,
    "use_edit_page_button": False,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "navigation_depth": 2,
    "show_nav_level": 1,
    "collapse_navigation": True,
}
# Pages with no section of their own to list get no left sidebar rather than
# an empty one.
html_sidebars = {
    "index": [],
    "validation/index": [],
}
html_title = f"minuet {version}"
html_static_path = ["_static"]
html_css_files = ["minuet.css"]
# every figure links to its full-size image (docs/_static/enlarge.js)
html_js_files = ["enlarge.js"]
# Quotes and ellipses only: "--" stays two hyphens, so commands in tables read as typed.
smartquotes_action = "qe"
templates_path = ["_templates"]

# numpydoc: describe parameters, do not build an autosummary table of methods
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
automodapi_toctreedirnm = "api"
automodsumm_inherited_members = False

# Offline build: objects of other packages cannot be resolved without their
# inventories, so their names are not treated as broken references.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|astropy|scipy|torch|matplotlib|h5py|sklearn|zuko|galsim|dask|"
               r"distributed|lsdb|hats|photutils|speclite|tqdm|safetensors|pathlib|os|collections|"
               r"bokeh|tornado|selenium|"
               r"typing|dataclasses|argparse|builtins|io)(\..*)?"),
    (r"py:class", r"(array-like|array_like|optional|callable|path-like|file-like|iterable|"
                  r"sequence|mapping|generator|iterator|scalar|None|int|float|str|bool|dict|"
                  r"list|tuple|object|bytes|type|default .*|shape .*|ndarray|Quantity|Table|"
                  r"QTable|NDData|CCDData|Path|Tensor|Module|Generator|Iterator|Sequence|"
                  r"Mapping|Callable|Any|Self)"),
    (r"py:obj", r"(None|True|False)"),
    # private base classes and helpers are not part of the documented API
    (r"py:.*", r"minuet(\.\w+)*\._\w+(\..*)?"),
]

# sphinx-gallery: every recipe in ``examples/`` is executed during the build.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "download_all_examples": False,
    "plot_gallery": os.environ.get("MINUET_PLOT_GALLERY", "True"),
    "matplotlib_animations": False,
    # the recipes' sections, in reading order
    "subsection_order": ["../examples/first_steps", "../examples/science",
                         "../examples/real_data", "../examples/scale"],
    "within_subsection_order": "FileNameSortKey",
    # figures also at twice the resolution, for high-density screens
    "image_srcset": ["2x"],
    # the execution-times page would load jQuery and DataTables from a CDN
    "write_computation_times": False,
}

# Matplotlib's non-interactive backend during the build.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _constant_docstring(app, what, name, obj, options, lines):
    """Document a package constant by its ``#:`` comment, not by its type's docstring.

    The constants are defined in private modules and re-exported, so autodoc,
    looking in the public module, would otherwise show the docstring of
    ``tuple`` or ``str``. The comment is found in the already imported modules
    of the constant's package.
    """
    import sys

    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    type_doc = (type(obj).__doc__ or "").strip()
    text = [line for line in lines if line.strip()]
    if what != "data" or not type_doc or not text or text[0] != type_doc.splitlines()[0]:
        return
    package, attribute = name.rsplit(".", 1)
    for module in sorted(m for m in sys.modules if m == package or m.startswith(package + ".")):
        try:
            comment = ModuleAnalyzer.for_module(module).find_attr_docs().get(("", attribute))
        except PycodeError:  # a module without source has no comment to give
            continue
        if comment:
            lines[:] = list(comment)
            return
    lines[:] = []


def _no_inherited_init_docstring(app, what, name, obj, options, lines):
    """Leave out the docstring a class's undocumented ``__init__`` inherits.

    A network's ``__init__`` would otherwise bring ``torch.nn.Module``'s own
    ("Initialize internal Module state ...") onto its page.
    """
    import inspect

    own = vars(obj).get("__init__") if what == "class" else None
    if own is None or own.__doc__:
        return
    inherited = inspect.getdoc(obj.__init__)
    if not inherited:
        return
    block = [line.strip() for line in inherited.splitlines()]
    stripped = [line.strip() for line in lines]
    for start in range(len(lines) - len(block), -1, -1):
        if stripped[start:start + len(block)] == block:
            del lines[start:start + len(block)]
            return


def _factory_defaults_as_in_signatures():
    """Show a ``default_factory`` field's default as ``<factory>``, as class signatures do.

    autodoc describes a dataclass field by its ``default``, which for such a
    field is the dataclasses module's internal ``MISSING`` sentinel; its repr
    would otherwise appear on the configuration pages.
    """
    import dataclasses

    from sphinx.util import inspect as sphinx_inspect

    describe = sphinx_inspect.object_description

    def object_description(obj, *args, **kwargs):
        if obj is dataclasses.MISSING:
            return "<factory>"
        return describe(obj, *args, **kwargs)

    sphinx_inspect.object_description = object_description


def setup(app):
    _factory_defaults_as_in_signatures()
    app.connect("autodoc-process-docstring", _constant_docstring)
    app.connect("autodoc-process-docstring", _no_inherited_init_docstring)
