"""Policy Reader: Chinese policy documents made readable in English."""

__version__ = "0.1.0"
