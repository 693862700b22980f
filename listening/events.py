"""What the listening layer announces to the layers above it: the one hook.

`listening` sits below `recommender` and must not import it, yet a new listen or a word
of feedback should change the listener's suggestions within seconds. So the services
here announce what happened, and whoever cares subscribes (today: recommender/receivers.py,
connected in RecommenderConfig.ready). Three signals, all sent after the rows are saved,
with keyword arguments only:

- `listens_recorded(listener_id)`: one or more listens of this listener were stored
  (the site's button, the REST API, a scrobble). Bulk file imports do not announce each
  listener: a publication reads them all.
- `feedback_given(listener_id, kind, song_id, artist_id, queue_refresh)`: a love or a
  not-for-me on one song or one artist was saved; `queue_refresh` is False when the caller
  refolds the listener's suggestions itself (onboarding does, to show them at once).
- `feedback_withdrawn(listener_id, song_id, artist_id)`: the listener took back their love or
  not-for-me on one song or artist (the "Undo"); the row is deleted.
"""

from django.dispatch import Signal

listens_recorded = Signal()
feedback_given = Signal()
feedback_withdrawn = Signal()
