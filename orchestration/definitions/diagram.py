"""A server-side SVG drawing of a definition's graph.

Layered top to bottom by breadth-first depth from `start`; edges that go back
up (loops) are drawn as curves on the right. Every text is escaped: step names
and conditions come from users.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from html import escape
from typing import Any

from django.utils.translation import gettext, ngettext

from orchestration.definitions.graph import all_steps, edges, regions_of, successors

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 170, 46, 40, 64, 24

_STYLE = {
    "service": ("#e8f0fe", "#3367d6"),
    "http": ("#e8f0fe", "#3367d6"),
    "decision": ("#fff4e5", "#e37400"),
    "approval": ("#e6f4ea", "#188038"),
    "parallel": ("#f3e8fd", "#8430ce"),
    "join": ("#f3e8fd", "#8430ce"),
    "wait": ("#fef7e0", "#b06000"),
    "subprocess": ("#e8f0fe", "#1a73e8"),
    "compensate": ("#fce8e6", "#c5221f"),
    "end": ("#f1f3f4", "#3c4043"),
}


def _outermost_regions(spec: Mapping[str, Any]) -> dict[str, str]:
    """For each step inside a region, the top-level region it is (deep) inside."""
    direct = regions_of(spec)

    def top(step_id: str) -> str:
        while step_id in direct:
            step_id = direct[step_id]
        return step_id

    return {step_id: top(step_id) for step_id in direct}


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _layers(start: str, succ: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest-path layering after dropping the edges that close a loop, so that the
    flow reads top to bottom and end steps sit below what leads to them."""
    order: list[str] = []  # reverse post-order of a DFS from start
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[tuple[str, int]] = [(start, 0)]
    state[start] = 1
    while stack:
        node, i = stack.pop()
        nexts = succ.get(node, [])
        if i < len(nexts):
            stack.append((node, i + 1))
            nxt = nexts[i]
            if state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, 0))
        else:
            state[node] = 2
            order.append(node)
    depth = dict.fromkeys(order, 0)
    for node in reversed(order):  # a topological order of the loop-free graph
        for nxt in succ.get(node, []):
            if (node, nxt) not in back and nxt in depth:
                depth[nxt] = max(depth[nxt], depth[node] + 1)
    return depth


# The heatmap's scale, light to dark (ColorBrewer YlOrRd): how long instances
# stay in a step, against the step where they stay longest.
HEAT = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")


def render_svg(
    spec: Mapping[str, Any], *, highlight: Collection[str] = (), done: Collection[str] = (),
    heat: Mapping[str, tuple[float, str]] | None = None,
    taken: Mapping[tuple[str, str], int] | None = None,
) -> str:  # fmt: skip
    """SVG markup for the definition. For an instance, `highlight` are its current
    steps (a thick amber outline and "now"), `done` the steps it has passed
    (a check mark; the edges between them drawn as the path taken); a legend
    says so. For a report, `heat` colours each step by how long instances
    stay there ((share of the longest, 0..1), and the words for it) and
    `taken` labels each edge with how often it was taken."""
    steps: Mapping[str, Mapping[str, Any]] = spec.get("steps") or {}
    start = spec.get("start")
    # Steps inside a region are drawn as their (outermost) region.
    outer = _outermost_regions(spec)
    highlight = {outer.get(s, s) for s in highlight}
    done = {outer.get(s, s) for s in done}
    depth = _layers(start, successors(steps)) if isinstance(start, str) and start in steps else {}
    bottom = max(depth.values(), default=-1) + 1
    for step_id in steps:  # unreachable steps go on a last row of their own
        depth.setdefault(step_id, bottom)
    rows: dict[int, list[str]] = {}
    for step_id in steps:
        rows.setdefault(depth[step_id], []).append(step_id)
    widest = max((len(r) for r in rows.values()), default=1)
    long_edges = sum(
        1
        for e in edges(steps)
        if e.source in depth and e.target in depth and depth[e.target] > depth[e.source] + 1
    )
    back = sum(
        1
        for e in edges(steps)
        if e.source in depth and e.target in depth and depth[e.target] < depth[e.source]
    )
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X + 80 + 14 * back
    height = MARGIN * 2 + len(rows) * (NODE_H + GAP_Y)
    legend = bool(highlight or done)
    if legend or heat is not None:
        height += 28
    # room at the sides for edges that skip rows, and for their labels
    lane_room = 40 + 14 * long_edges + (160 if long_edges else 0)
    width += 2 * lane_room
    pos: dict[str, tuple[float, float]] = {}
    for row, ids in rows.items():
        row_w = len(ids) * NODE_W + (len(ids) - 1) * GAP_X
        x0 = MARGIN + (widest * NODE_W + (widest - 1) * GAP_X - row_w) / 2
        for i, step_id in enumerate(ids):
            pos[step_id] = (lane_room + x0 + i * (NODE_W + GAP_X), MARGIN + row * (NODE_H + GAP_Y))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="process-diagram" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(str(spec.get("name", "process")))} diagram" '
        'font-family="system-ui, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#5f6368"/>'
        "</marker></defs>",
    ]
    back_edges = lanes = 0
    labels_at: dict[str, int] = {}
    min_x = min((x for x, _ in pos.values()), default=0)
    max_x = max((x + NODE_W for x, _ in pos.values()), default=0)
    for edge in edges(steps):
        if edge.source not in pos or edge.target not in pos:
            continue
        (sx, sy), (tx, ty) = pos[edge.source], pos[edge.target]
        anchor = "start"
        if ty == sy + NODE_H + GAP_Y:  # one row down: bottom centre to top centre
            x1, y1, x2, y2 = sx + NODE_W / 2, sy + NODE_H, tx + NODE_W / 2, ty
            path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
            lx, ly = (x1 + x2) / 2 + 4, (y1 + y2) / 2
            if x2 < x1:  # going left: the label ends left of the line, clear of one going right
                lx, anchor = (x1 + x2) / 2 - 4, "end"
        elif ty > sy:  # several rows down: around the rows between, in a side lane
            lanes += 1
            x1, y1, x2, y2 = sx + NODE_W / 2, sy + NODE_H, tx + NODE_W / 2, ty
            right = x2 >= x1
            lane = (max_x + 24 + 14 * lanes) if right else (min_x - 24 - 14 * lanes)
            path = (
                f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + 40:.0f} {lane:.0f},{y1 + 20:.0f} "
                f"{lane:.0f},{(y1 + y2) / 2:.0f} S{x2:.0f},{y2 - 40:.0f} {x2:.0f},{y2:.0f}"
            )
            stacked = labels_at.get(edge.source, 0)
            labels_at[edge.source] = stacked + 1
            lx = lane + 4 if right else lane - 4 - 5.5 * len(_short(edge.label, 28))
            ly = (y1 + y2) / 2 + 13 * stacked  # several from one source: stack the labels
        elif ty == sy and edge.source != edge.target:  # same row: side to side
            left = sx < tx
            x1, y1 = (sx + NODE_W if left else sx), sy + NODE_H / 2
            x2, y2 = (tx if left else tx + NODE_W), ty + NODE_H / 2
            path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
            lx, ly = min(x1, x2) + 4, y1 - 4
        else:  # back up (a loop): out on the right, each loop a little further out
            back_edges += 1
            x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx + NODE_W, ty + NODE_H / 2
            bend = max(x1, x2) + 30 + 14 * back_edges
            path = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            lx, ly = x1 + 4, y1 - 4
        on_path = edge.source in done and (edge.target in done or edge.target in highlight)
        look = (
            'stroke="#1e8e3e" stroke-width="2.6" class="taken"'
            if on_path
            else ('stroke="#5f6368" stroke-width="1.3"')
        )
        out.append(f'<path d="{path}" fill="none" {look} marker-end="url(#arrow)"/>')
        label = _short(edge.label, 28) if edge.label else ""
        if taken is not None:
            count = taken.get((edge.source, edge.target), 0)
            times = ngettext("%(n)s time", "%(n)s times", count) % {"n": count}
            label = f"{label} · {times}" if label else times
        if label:
            out.append(
                f'<text x="{lx:.0f}" y="{ly:.0f}" fill="#202124" font-size="10" '
                f'text-anchor="{anchor}" class="edge-label">{escape(label)}</text>'
            )
    for step_id, (x, y) in pos.items():
        step = steps[step_id]
        kind = escape(str(step.get("type", "?")))
        fill, stroke = _STYLE.get(kind, ("#ffffff", "#5f6368"))
        ink = "#202124"
        hot = heat.get(step_id) if heat is not None else None
        if hot is not None:
            shade = min(len(HEAT) - 1, int(max(0.0, min(1.0, hot[0])) * len(HEAT)))
            fill, stroke = HEAT[shade], "#5f6368"
            ink = "#ffffff" if shade >= 6 else "#202124"  # 4.5:1 or better either way
        now, passed = step_id in highlight, step_id in done and step_id not in highlight
        width_px = 3.5 if now else 1.5
        if now:
            stroke = "#f9ab00"
        rx = 23 if kind in {"end", "wait"} else 6
        dash = ' stroke-dasharray="5,3"' if kind == "compensate" else ""
        cls = "step current" if now else ("step done" if passed else "step")
        label = escape(_short(str(step.get("name") or step_id)))
        subtitle = kind
        if kind == "end" and "result" in step:
            subtitle += " → " + escape(_short(str(step["result"]), 14))
        if kind == "region":
            count = len(all_steps({"steps": step.get("steps") or {}}))
            subtitle += " · " + gettext("%(n)s steps") % {"n": count}
        if kind == "join" and "wait_for" in step:  # a partial join: how many it waits for
            subtitle += " · " + gettext("first %(n)s") % {"n": escape(str(step["wait_for"]))}
        if hot is not None:
            subtitle = escape(hot[1])
        if now:
            subtitle = "▶ " + gettext("now") + " · " + subtitle
        elif passed:
            subtitle = ("✓ " + gettext("reached") + " · " if kind == "end" else "✓ ") + subtitle
        cx = x + NODE_W / 2
        out.append(
            f'<g class="{cls}" data-step="{escape(step_id)}">'
            f"<title>{escape(step_id)} ({kind})</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="{rx}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="{width_px}"{dash}/>'
            f'<text x="{cx:.0f}" y="{y + 19:.0f}" text-anchor="middle" font-weight="600" '
            f'fill="{ink}">{label}</text>'
            f'<text x="{cx:.0f}" y="{y + 35:.0f}" text-anchor="middle" '
            f'fill="{ink if hot is not None else stroke}" font-size="10">{subtitle}</text></g>'
        )
    if legend:
        y = height - MARGIN - 6
        current = escape(gettext("current step"))
        done_text = escape(gettext("completed step"))
        path_text = escape(gettext("path taken"))
        out.append(
            f'<g class="legend" font-size="11"><rect x="{MARGIN}" y="{y - 11}" width="12" '
            'height="12" fill="#fff" stroke="#f9ab00" stroke-width="3"/>'
            f'<text x="{MARGIN + 18}" y="{y}">▶ {current}</text>'
            f'<text x="{MARGIN + 120}" y="{y}">✓ {done_text}</text>'
            f'<path d="M{MARGIN + 240},{y - 4} h24" stroke="#1e8e3e" stroke-width="2.6"/>'
            f'<text x="{MARGIN + 270}" y="{y}">{path_text}</text></g>'
        )
    if heat is not None:
        y = height - MARGIN - 6
        words = escape(gettext("time spent in the step: short"))
        longest = escape(gettext("longest"))
        swatches = "".join(
            f'<rect x="{MARGIN + 200 + 16 * i}" y="{y - 11}" width="16" height="12" '
            f'fill="{colour}" stroke="#5f6368" stroke-width="0.5"/>'
            for i, colour in enumerate(HEAT)
        )
        out.append(
            f'<g class="legend" font-size="11"><text x="{MARGIN}" y="{y}">{words}</text>'
            f'{swatches}<text x="{MARGIN + 206 + 16 * len(HEAT)}" y="{y}">{longest}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
