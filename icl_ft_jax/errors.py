"""Errors meant for the person running the code, not for a debugger.

`main` prints a `UserError` as one line (what was wrong, what to do) and exits
with status 2 instead of showing a traceback from deep inside a library.
"""


class UserError(Exception):
  """Bad input or environment, with a message that says how to fix it."""


class ConfigError(UserError):
  """The experiment config is invalid (unknown key, wrong type, missing field)."""


class ModelLoadError(UserError):
  """A model, checkpoint or tokenizer could not be loaded."""


class Interrupted(UserError):
  """Stopped by Ctrl-C or SIGTERM after saving what resuming needs; `main` exits with 130."""
