"""Home-page tiles contributed by the apps.

Each app registers a function from its AppConfig.ready(); the home page calls every function
with the request and shows the tiles it returns (none when the user has nothing there), so
this lower app never imports the higher ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Tile:
    value: str
    label: str
    url: str
    link_text: str
    tone: str = ""  # "" or "warn": a tile that needs attention


TileSource = Callable[[HttpRequest], Iterable[Tile]]
_SOURCES: list[TileSource] = []


def register_tiles(source: TileSource) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


def tiles_for(request: HttpRequest) -> list[Tile]:
    return [tile for source in _SOURCES for tile in source(request)]
