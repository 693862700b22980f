"""Accounts: signing up, signing out everywhere, and what keeps tokens and passwords safe.

The policy (docs/README.md, "Accounts and tokens"): API tokens are django-rest-knox's (one
per device, hashed at rest, expiring); a password change, wherever it is made (the
password-change page, the admin, `changepassword`, a reset), and "Sign out everywhere"
revoke every token of the account; failed sign-ins are counted by django-axes on the
sign-in page and the token endpoint alike, by account and by address.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from knox.models import AuthToken

from listening.models import Listener

# Devices one account may keep signed in at once; a new sign-in past it revokes the oldest.
TOKENS_PER_ACCOUNT = 20


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        Listener.objects.for_user(user)
        # The account was just made with this password: no sign-in to count for axes.
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("onboarding")
    return render(request, "registration/signup.html", {"form": form})


def tokens_trim(*, user, keep: int) -> None:
    """Revoke the account's tokens beyond the newest `keep`."""
    older = list(
        AuthToken.objects.filter(user=user)
        .order_by("-created")
        .values_list("digest", flat=True)[keep:]
    )
    if older:
        # Deleted through the ORM (not raw SQL) so each token's ready pages go too.
        AuthToken.objects.filter(digest__in=older).delete()


def tokens_revoke_all(*, user) -> int:
    """Every API token of the account stops working (their ready pages go with them:
    fast_reads listens to each token's deletion)."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


class RevokeTokensOnPasswordChange:
    """Not a rule on passwords: Django calls every configured validator's
    `password_changed` after any `set_password` is saved — the password-change page, the
    admin's form, `changepassword`, a reset — which is the one hook all of them share. A
    token issued under the old password must not outlive it."""

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            tokens_revoke_all(user=user)

    def get_help_text(self) -> str:
        return "A new password signs out every app signed in to the account."


@login_required
@require_POST
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """Every API token of the account revoked, and this browser signed out."""
    count = tokens_revoke_all(user=request.user)
    logout(request)
    messages.success(
        request,
        f"Signed out everywhere: {count} app sign-in{'s' if count != 1 else ''} revoked.",
    )
    return redirect("login")


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE): the API's view
    has already answered with the JSON error body and Retry-After; a page says so in
    words, with status 429."""
    if request.path.startswith("/api/") and original_response is not None:
        return original_response
    minutes = max(1, lockout_seconds() // 60)
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(lockout_seconds())
    return response


def client_address(request: HttpRequest) -> str:
    """The address a failed sign-in is counted under (AXES_CLIENT_IP_CALLABLE)."""
    return request.META.get("REMOTE_ADDR", "")


def client_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a failed sign-in is counted under (AXES_USERNAME_CALLABLE), cut to the
    longest a username can be: Django's sign-in form does not bound what it passes on, and
    axes stores it in a 255-character column (PostgreSQL refuses longer)."""
    name = (credentials or {}).get("username")
    if name is None:
        name = request.POST.get("username")
    return name[:150] if isinstance(name, str) else None
