"""Checkers behind the rules that need more than a declarative table.

Each module defines one :class:`kmigrate.engine.Checker` subclass; a rule names its module in
its TOML (``checker = "optimizers"``).
"""
