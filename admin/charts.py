"""Line charts drawn as inline SVG on the server: no script, nothing fetched from elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 48, 24, 10
COLOURS = {"delivered": "#2e7d32", "deferred": "#f9a825", "bounced": "#c62828", "complained": "#6a1b9a",
           "suppressed": "#546e7a"}


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: str  # the polyline's "x,y x,y ..."
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    series: list[Series]
    x_labels: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]


def line_chart(labels: list[str], values: dict[str, list[int]]) -> Chart:
    top = max([1, *(v for series in values.values() for v in series)])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(labels) - 1)

    def y(value: float) -> float:
        return round(PAD_TOP + plot_h - value / top * plot_h, 1)

    series = [Series(name, COLOURS.get(name, "#1565c0"),
                     " ".join(f"{round(PAD_LEFT + n * step, 1)},{y(v)}" for n, v in enumerate(counts)),
                     sum(counts))
              for name, counts in values.items()]
    every = max(1, len(labels) // 7)
    x_labels = [(round(PAD_LEFT + n * step, 1), label) for n, label in enumerate(labels) if n % every == 0]
    y_labels = [(y(top * f), f"{round(top * f):,}") for f in (0, 0.5, 1)]
    return Chart(WIDTH, HEIGHT, series, x_labels, y_labels)
