"""The listener's own pages: their listening, onboarding, and the buttons on song pages."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.paginator import Paginator
from django.db.models import F, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from catalog.lookups import in_order
from catalog.models import Artist, Song
from catalog.search import artists_search
from listening.charts import charts
from listening.feedback import feedback_give, feedback_withdraw
from listening.listen_submission import ListenItem, SubmissionError, listens_record
from listening.models import FeedbackKind, FeedbackOrigin, Listen, Listener
from recommender.refresh import refresh_listener
from web.api.inputs import ID_MAX
from web.clock import clock_svg

HISTORY_PAGE = 25
MIN_ARTISTS = 3
MAX_PICKS = 50  # far more than anyone ticks on a welcome page
SEARCH_SHOWN = 30
UNDO = "undo"  # the feedback form's kind that takes a love or a not-for-me back


def _back(request: HttpRequest, fallback: str = "home") -> HttpResponse:
    """To the page the form came from, if it is on this site."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)


@login_required
def my_listening(request: HttpRequest) -> HttpResponse:
    listener = Listener.objects.for_user(request.user)
    mine = Listen.objects.filter(listener=listener)
    history = Paginator(
        mine.select_related("song__artist", "artist").order_by(
            F("played_at").desc(nulls_last=True), "-id"
        ),
        HISTORY_PAGE,
    ).get_page(request.GET.get("page"))
    top_artists = (
        mine.filter(artist__isnull=False)
        .values("artist_id", "artist__name")
        .annotate(plays=Sum("play_count"))
        .order_by("-plays", "artist__name")[:10]
    )
    top_songs = (
        mine.filter(song__isnull=False)
        .values("song_id", "song__title", "song__artist__name")
        .annotate(plays=Sum("play_count"))
        .order_by("-plays", "song__title")[:10]
    )
    by_time = (
        mine.filter(played_at__isnull=False)
        .annotate(day=ExtractIsoWeekDay("played_at"), hour=ExtractHour("played_at"))
        .values("day", "hour")
        .annotate(plays=Sum("play_count"))
    )
    clock = {(row["day"] - 1, row["hour"]): row["plays"] for row in by_time}
    context = {
        "history": history,
        "top_artists": top_artists,
        "top_songs": top_songs,
        "clock": clock_svg(clock) if clock else "",
    }
    return render(request, "listening/my_listening.html", context)


# One bound for every id a page form takes: what the id columns (64-bit) hold. Django's
# IntegerField refuses "²" and thousand-digit strings with its "Enter a whole number."
ID_FIELD = forms.IntegerField(min_value=1, max_value=ID_MAX)


def _id(value) -> int | None:
    """`value` as an id, or None if it cannot be one."""
    try:
        return ID_FIELD.clean(value)
    except forms.ValidationError:
        return None


def _picked_artists(values: list[str]) -> tuple[list[int], str]:
    """The artist ids among `values` (the form's picks), in order and once each, and what was
    wrong with the rest ("" if nothing). The picks travel in the page's query string and
    form, so anything can arrive; at most MAX_PICKS count (which bounds the lookup too)."""
    ids = [_id(value) for value in values]
    picks = list(dict.fromkeys(pk for pk in ids if pk is not None))
    bad = ids.count(None)
    if bad:
        return picks[:MAX_PICKS], f"{bad} of the picks {'is' if bad == 1 else 'are'} not an artist."
    if len(picks) > MAX_PICKS:
        return picks[:MAX_PICKS], f"Pick at most {MAX_PICKS} artists."
    return picks, ""


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    """A new listener picks at least three artists they like; each becomes a "love", and
    their suggestions are folded in from those at once.

    One form holds the search box, the picks so far (hidden inputs) and the ticks in the
    current results, so a search keeps every pick without JavaScript: its button posts the
    form, which redirects to this page with the picks in the query string."""
    listener = Listener.objects.for_user(request.user)
    data = request.POST if request.method == "POST" else request.GET
    words = data.get("q", "").strip()
    picks, problem = _picked_artists(data.getlist("artist"))
    if request.method == "POST" and ("search" in data or "remove" in data):
        picks = [pk for pk in picks if str(pk) != data.get("remove")]
        if problem:
            messages.error(request, problem)
        query = urlencode({"q": words, "artist": picks} if words else {"artist": picks}, doseq=True)
        return redirect(f"{reverse('onboarding')}?{query}")
    # Only artists the listener may see can be picked: a pending or hidden id in a crafted
    # link is left out like a deleted one.
    picked = in_order(Artist.objects.visible_to(request.user), picks)
    if len(picked) < len(picks) and not problem:
        problem = "Some of the picked artists no longer exist: they are left out."
    if request.method == "POST" and not problem:
        if len(picked) < MIN_ARTISTS:
            problem = f"Pick at least {MIN_ARTISTS} artists you like."
        else:
            for artist in picked:
                feedback_give(
                    listener,
                    kind=FeedbackKind.LOVE,
                    artist_id=artist.pk,
                    origin=FeedbackOrigin.PICKED,  # "because you picked X", not "played"
                    refresh=False,
                )
            refresh_listener(listener.pk)  # here, not queued: the next page shows the result
            messages.success(request, "Thanks! Here are songs picked for you.")
            return redirect("home")
    if problem:
        messages.error(request, problem)
    if words:
        found = artists_search(words, user=request.user).exclude(pk__in=picks)
        artists = list(found[:SEARCH_SHOWN])
    else:  # the most listened artists, from the cached charts (no aggregate per request)
        top = [row["id"] for row in charts()["artists"]["overall"] if row["id"] not in picks]
        artists = in_order(Artist, top)
    context = {"artists": artists, "picks": picked, "q": words, "minimum": MIN_ARTISTS}
    # A refused form or a hostile link is the asker's error: the page again, with why, as a 400.
    return render(request, "listening/onboarding.html", context, status=400 if problem else 200)


@login_required
@require_POST
def song_listened(request: HttpRequest, song_id: int) -> HttpResponse:
    listener = Listener.objects.for_user(request.user)
    if _id(song_id) is None:  # the path's number may be any length
        messages.error(request, "No such song.")
        return _back(request)
    try:
        listens_record(listener, [ListenItem(song_id=song_id)])
    except SubmissionError as error:
        messages.error(request, error.errors[0]["message"].capitalize() + ".")
        return _back(request)
    title = Song.objects.filter(pk=song_id).values_list("title", flat=True).first()
    messages.success(request, f"Recorded: you listened to {title}. Your suggestions are updating.")
    return _back(request)


class FeedbackForm(forms.Form):
    """The song page's Love / Not for me / Undo buttons: one song or one artist."""

    # Errors never echo the value: it may be anything, and it is shown on the next page.
    kind = forms.ChoiceField(
        choices=[*FeedbackKind.choices, (UNDO, "Undo")],
        error_messages={"invalid_choice": "must be love, not_for_me or undo"},
    )
    song = forms.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    artist = forms.IntegerField(min_value=1, max_value=ID_MAX, required=False)  # as ID_FIELD

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        song, artist = data.get("song"), data.get("artist")
        if (song is None) == (artist is None):
            raise forms.ValidationError("Give one song or one artist.")
        model = Song if song is not None else Artist
        if not model.objects.filter(pk=song or artist).exists():
            raise forms.ValidationError("That song or artist does not exist.")
        return data


def _form_problem(form: forms.Form) -> str:
    """The form's first error, with the field it is about."""
    for name, errors in form.errors.items():
        prefix = "" if name == NON_FIELD_ERRORS else f"{name}: "
        return f"{prefix}{errors[0]}"
    return ""


@login_required
@require_POST
def give_feedback(request: HttpRequest) -> HttpResponse:
    """Love, not for me, or take either back (kind "undo")."""
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return _back(request)
    listener = Listener.objects.for_user(request.user)
    kind = form.cleaned_data["kind"]
    target = {
        f"{name}_id": form.cleaned_data[name]
        for name in ("song", "artist")
        if form.cleaned_data[name] is not None
    }
    if kind == UNDO:
        if feedback_withdraw(listener, **target):
            messages.success(request, "Taken back. Your suggestions are updating.")
        else:
            messages.info(request, "There was nothing to take back.")
        return _back(request)
    feedback_give(listener, kind=kind, **target)
    if kind == FeedbackKind.NOT_FOR_ME:
        messages.success(request, "Understood: it will not be suggested to you again.")
    else:
        messages.success(request, "Loved. Your suggestions will take it into account.")
    return _back(request)
