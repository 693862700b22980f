"""Run an iterator in a thread, a few items ahead of its reader.

While the database works on one chunk (the reader waits on a socket and lets go of the GIL),
the thread parses and cleans the next: on two cores the two overlap.
"""

import threading
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Yield `items`, produced by a thread at most `depth` items ahead.

    An exception in the thread is raised in the reader; a reader that stops early (or
    fails) stops the thread.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the reader, who raises it
            put(error)

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = queue.get(timeout=0.5)
            except Empty:
                if not thread.is_alive():
                    raise RuntimeError("the reader thread ended without a word") from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
