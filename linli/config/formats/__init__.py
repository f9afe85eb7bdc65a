"""Project date formats (``FORMAT_MODULE_PATH``) that differ from Django's own per-language ones."""
