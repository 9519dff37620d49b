"""The gap filler of a streamed reply: silence inside the one audio group, never after it.

End to end (real server, emulator, 6 s and 12 s text gaps): test_server_tts_gaps.py. Here the
filler's own rules, with a fast interval.
"""

from __future__ import annotations

import asyncio

from wyoming.event import Event

from wyoming_server.server.audio_gaps import KEEPALIVE_SILENCE_S, GapFiller
from wyoming_server.server.audio_reply import AudioReply

RATE = 24_000
INTERVAL = 0.05


def samples(events: list[Event]) -> int:
    return sum(len(e.payload or b"") // 2 for e in events if e.type == "audio-chunk")


async def test_silence_before_the_first_audio_starts_the_reply_and_stops_with_it() -> None:
    written: list[Event] = []

    async def write(event: Event) -> None:
        written.append(event)

    reply = AudioReply(write, samples_per_chunk=1024)
    filler = GapFiller(reply, RATE, interval=INTERVAL)
    filler.start()
    await asyncio.sleep(INTERVAL * 6)
    await reply.pcm(bytes(2 * 480), RATE)  # the first sentence, late
    await reply.stop()
    count = len(written)
    await asyncio.sleep(INTERVAL * 4)
    await filler.aclose()
    await reply.silence(1.0, RATE)  # a late fill
    kinds = [e.type for e in written]
    assert len(written) == count  # nothing after audio-stop
    assert kinds[0] == "audio-start" and written[0].data["rate"] == RATE
    assert kinds.count("audio-start") == 1 and kinds[-1] == "audio-stop"
    assert kinds.count("audio-stop") == 1
    for event in written:
        if event.type == "audio-chunk":
            assert event.data["rate"] == RATE and 0 < len(event.payload or b"") <= 2048
    assert filler.silence_s > 0
    assert samples(written) == round(filler.silence_s * RATE) + 480


async def test_while_audio_already_sent_still_plays_only_keepalive_pieces_go_out() -> None:
    written: list[Event] = []

    async def write(event: Event) -> None:
        written.append(event)

    reply = AudioReply(write, samples_per_chunk=1024)
    filler = GapFiller(reply, RATE, interval=0.2)
    filler.start()
    await reply.pcm(bytes(2 * RATE), RATE)  # 1 s of speech, sent at once
    before = samples(written)
    await asyncio.sleep(0.7)  # its playback is not over
    await filler.aclose()
    await reply.stop()
    added = samples(written) - before
    assert filler.fills >= 2  # bytes keep flowing
    assert added == filler.fills * round(KEEPALIVE_SILENCE_S * RATE)  # short pieces only
