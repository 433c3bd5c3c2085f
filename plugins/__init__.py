"""Built-in plugins of ipt-measures: one module per instrument (with its declarative file), plus protocols.

Installed as the package ``ipt_measures_plugins`` and registered through the ``ipt_measures`` entry-point
group, exactly as a third-party plugin is.
"""
