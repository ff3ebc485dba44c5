"""kmigrate: find and fix Keras 2 idioms whose behaviour changes in Keras 3."""

__version__ = "0.1.0"
