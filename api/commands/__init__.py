"""One module per ``gridplan`` sub-command; each exposes ``command``."""
