"""API tokens (django-rest-knox): one per device, hashed at rest, expiring, revocable.

`POST auth/token/` signs in with a username and password, through Django's `authenticate`,
so django-axes counts the failures and locks out by account and by address (docs/README.md,
"Accounts and tokens"); `auth/logout/` revokes the token the request carries and
`auth/logout-all/` every token of the account.
"""

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from web.accounts import TOKENS_PER_ACCOUNT, lockout_seconds, tokens_trim
from web.api.authentication import ShapedTokenAuthentication

TOKEN = inline_serializer(
    "Token",
    {
        "token": serializers.CharField(help_text="Send as `Authorization: Token <token>`."),
        "expiry": serializers.DateTimeField(help_text="When the token stops working."),
    },
)


class TokenView(APIView):
    """POST a username and password: a new token for this device (the account's other
    tokens keep working; past TOKENS_PER_ACCOUNT the oldest is revoked)."""

    authentication_classes: list = []
    permission_classes: list = []

    class SignInSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(tags=["auth"], request=SignInSerializer, responses={200: TOKEN})
    def post(self, request):
        given = self.SignInSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate(request._request, **given.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise Throttled(wait=lockout_seconds(), detail="Too many failed sign-ins.")
        if user is None or not user.is_active:
            raise ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]},
                code="invalid",
            )
        instance, token = AuthToken.objects.create(user=user)
        tokens_trim(user=user, keep=TOKENS_PER_ACCOUNT)
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        return Response({"token": token, "expiry": instance.expiry})


class LogoutView(KnoxLogoutView):
    """POST: the token this request carries stops working at once."""

    authentication_classes = (ShapedTokenAuthentication,)

    @extend_schema(tags=["auth"], request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format)


class LogoutAllView(KnoxLogoutAllView):
    """POST: every token of the account stops working at once (every device signs in
    again)."""

    authentication_classes = (ShapedTokenAuthentication,)

    @extend_schema(tags=["auth"], request=None, responses={204: None})
    def post(self, request, format=None):
        return super().post(request, format)
