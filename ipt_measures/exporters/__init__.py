"""Built-in export formats, registered as plugins through the exporters hook."""
