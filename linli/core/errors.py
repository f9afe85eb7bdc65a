class LinliError(Exception):
    """A business rule said no; the message is shown to the user.

    ``field`` names the input the error is about (a service parameter such as ``"description"`` or
    ``"handler_user"``), when there is one; interface code maps it to its own field names."""

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PermissionDenied(LinliError):
    pass


class ConflictError(LinliError):
    """Someone else changed the record first."""


class NotFound(LinliError):
    """The record does not exist, or lies outside the caller's scope (the two are not told apart)."""
