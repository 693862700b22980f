"""Signing up: Django's user form, then straight on to onboarding, signed in."""

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from listening.models import Listener


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        Listener.objects.for_user(user)
        login(request, user)
        return redirect("onboarding")
    return render(request, "registration/signup.html", {"form": form})
