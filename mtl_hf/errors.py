"""Errors a user fixes by changing an option or a file.

They live in this small module so that the command line can catch them without importing the
modules that raise them (settings needs transformers, files needs pandas).
"""


class SettingsError(ValueError):
    """An invalid option or configuration file; the message names the option and the fix."""


class DataFileError(ValueError):
    """Raised for a data file that cannot be used. The message names the file and the next step for the user."""
