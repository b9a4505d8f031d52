"""The Flask admin panel: see issue 6."""
