"""What the recommender announces to the site above it: lists changed, the set switched.

The site keeps ready-rendered answers (web/fast_reads.py) that must go when what they show
changes; the recommender cannot import the site, so it announces, and the site subscribes
(WebConfig.ready). Sent after the change is saved, keyword arguments only:

- `lists_changed(listener_id)`: this listener's suggestions in the active set changed
  (a refresh, a not-for-me taken out).
- `active_set_changed()`: another set became active (a publication, a rollback).
- `lists_written(set_id, listener_ids)`: a block of a publication's lists is in its set
  (still `building`: not yet served); the site renders those listeners' ready pages for
  that set before the block counts as done, so a failure here fails (and retries) the block.
"""

from django.dispatch import Signal

lists_changed = Signal()
active_set_changed = Signal()
lists_written = Signal()
