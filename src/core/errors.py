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


def excerpt(text, limit: int = 40) -> str:
    """A short, printable quote of content read from a file, for an error message: non-printable
    characters escaped, at most `limit` characters (then `...` and the full length). Messages never
    echo more of a file than this, so a file that is not what it claims (a link to a secrets file,
    a binary) cannot pour its content into a terminal or CI log."""
    text = str(text)
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    if len(text) > limit:
        shown += f"... ({len(text)} characters)"
    return f"'{shown}'"
