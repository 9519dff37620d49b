"""Where the network lands on the critical path: the same benchmarks at several round-trip
times (the emulator's ``rtt_ms`` fault), compared with the first (normally 0 ms).

For each measure, the p50 at every RTT, the growth over the first RTT in ms and in round trips.
The targets (issue 7): the STT wait after `audio-stop` and the first streamed TTS audio grow by
at most one RTT.
"""

from __future__ import annotations

from typing import Any

# (label, section, path to the summary dict inside that section)
MEASURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("stt nova-3 (WebSocket) wait after audio-stop, 2 s", "stt", ("through_server", "@cf/deepgram/nova-3", "2s")),
    ("stt nova-3 (WebSocket) wait after audio-stop, 15 s", "stt", ("through_server", "@cf/deepgram/nova-3", "15s")),
    ("stt flux (WebSocket) wait after audio-stop, 2 s", "stt", ("through_server", "@cf/deepgram/flux", "2s")),
    ("stt whisper-large-v3-turbo (REST) wait after audio-stop, 2 s", "stt", ("through_server", "@cf/openai/whisper-large-v3-turbo", "2s")),
    ("stt whisper-large-v3-turbo (REST) wait after audio-stop, 15 s", "stt", ("through_server", "@cf/openai/whisper-large-v3-turbo", "15s")),
    ("stt whisper-large-v3-turbo (REST), first utterance of a new server", "stt", ("first_rest_utterance_of_a_new_server",)),
    ("tts streamed first audio (server, aura-2-en WebSocket)", "tts", ("streaming_first_audio",)),
    ("tts first sentence, new WebSocket, first audio (client)", "tts", ("first_sentence_websocket_first_audio",)),
    ("tts first sentence over REST, whole (client)", "tts", ("first_sentence_rest_whole",)),
)  # fmt: skip


def _stat(
    run: dict[str, Any], section: str, path: tuple[str, ...], stat: str = "p50_ms"
) -> float | None:
    node: Any = run.get(section)
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node.get(stat) if isinstance(node, dict) else None


def compare(runs: dict[float, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ``{measure, p50_ms: {rtt: ms}, min_ms: {rtt: ms}, growth_ms: {rtt: ms},
    growth_rtt: {rtt: n}, min_growth_ms: {rtt: ms}}``.

    ``growth_*`` compare p50s; ``min_growth_ms`` compares minimums, which a CPU shared with
    other work disturbs least (contention only ever adds time).
    """
    rtts = list(runs)
    base = rtts[0]
    rows = []
    for label, section, path in MEASURES:
        values = {rtt: _stat(runs[rtt], section, path) for rtt in rtts}
        minimums = {rtt: _stat(runs[rtt], section, path, "min_ms") for rtt in rtts}
        first = values[base]
        if first is None:
            continue
        row: dict[str, Any] = {"measure": label, "p50_ms": {f"{r:g}": v for r, v in values.items()}}
        growth: dict[str, float] = {}
        in_rtts: dict[str, float] = {}
        for rtt in rtts[1:]:
            value = values[rtt]
            if value is None:
                continue
            growth[f"{rtt:g}"] = round(value - first, 1)
            if rtt > base:
                in_rtts[f"{rtt:g}"] = round((value - first) / (rtt - base), 2)
        row["growth_ms"] = growth
        row["growth_rtt"] = in_rtts
        row["min_ms"] = {f"{r:g}": v for r, v in minimums.items()}
        base_min = minimums[base]
        row["min_growth_ms"] = {
            f"{r:g}": round(v - base_min, 1)
            for r, v in minimums.items()
            if r != base and v is not None and base_min is not None
        }
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], rtts: list[float]) -> str:
    """A README-ready table of :func:`compare`'s rows."""
    head = " | ".join(f"p50 at {r:g} ms RTT" for r in rtts)
    lines = [
        f"| measure | {head} | growth of p50 (RTTs) | growth of min |",
        "|---" * (len(rtts) + 3) + "|",
    ]
    for row in rows:
        cells = " | ".join(f"{row['p50_ms'].get(f'{r:g}', 0) or 0:.0f} ms" for r in rtts)
        growth = ", ".join(
            f"{v:+.0f} ms ({row['growth_rtt'].get(k, 0):.1f})" for k, v in row["growth_ms"].items()
        )
        low = ", ".join(f"{v:+.0f} ms" for v in row["min_growth_ms"].values())
        lines.append(f"| {row['measure']} | {cells} | {growth} | {low} |")
    return "\n".join(lines)
