class LinliError(Exception):
    """A business rule said no; the message is shown to the user."""


class PermissionDenied(LinliError):
    pass


class ConflictError(LinliError):
    """Someone else changed the record first."""
