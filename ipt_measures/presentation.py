"""The presentation layer: one Jinja2 environment (autoescaping) over ipt_measures/templates, and the one stylesheet.

The self-completion page (`ipt serve`) and the clinical review report (`ipt report`) both render through
:func:`environment` and both use :func:`stylesheet`, so there is one way to turn data into HTML and one look.
Jinja2 is imported inside the functions: start-up stays light for commands that render nothing.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def environment() -> Any:
    """The shared Jinja2 environment: templates from the package, autoescaping always on."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ipt_measures", "templates"),
        # Every template escapes by default, .html or not, so no value reaches a page unescaped by accident.
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """Render one template of the package with ``context``."""
    return environment().get_template(template).render(**context)


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The text of the one stylesheet (templates/style.css)."""
    return resources.files("ipt_measures").joinpath("templates", "style.css").read_text(encoding="utf-8")
