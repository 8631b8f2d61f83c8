"""Errors meant for the person running the pipeline.

Stages catch `UserError` and print its message without a traceback: the message
must say what was wrong, where (file or param), and how to fix it.
"""


class UserError(Exception):
    """Base class for errors caused by input, params or the environment."""


class ConfigError(UserError):
    """A params file is malformed: unknown, missing or mistyped key."""


class DataError(UserError):
    """A raw or intermediate data file is missing, corrupt or inconsistent."""
