class LinliError(Exception):
    """A business rule said no; the message is shown to the user."""


class PermissionDenied(LinliError):
    pass


class ConflictError(LinliError):
    """Someone else changed the record first."""


class NotFound(LinliError):
    """The record does not exist, or lies outside the caller's scope (the two are not told apart)."""
