from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A staff or resident login. Posts (``org.Post``) decide what the user may see.

    Failed logins are counted by django-axes per client address and per address+username (see
    ``linli.accounts.throttle``), never per account alone: nobody can lock a known account from elsewhere.
    """

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    # Set when an administrator gives the account a temporary password: every page leads to the password change
    # page until the user has chosen their own (``linli.accounts.middleware.LoginStepsMiddleware``).
    must_change_password = models.BooleanField(_("下次登录须修改密码"), default=False)
    # A staff member's phone (optional, set when an administrator creates the account): personal data, so it is
    # encrypted at rest (``linli.core.crypto``) and shown masked only.
    phone_cipher = models.TextField(blank=True, default="")
    phone_masked = models.CharField(_("手机号"), max_length=20, blank=True, default="")

    def __str__(self) -> str:
        return self.display_name or self.username
