"""One reply's audio events: nothing may follow ``audio-stop``."""

from __future__ import annotations

import asyncio

from wyoming.event import Event

from wyoming_server.server.audio_reply import AudioReply


async def test_audio_arriving_during_stop_is_not_written_after_audio_stop() -> None:
    written: list[Event] = []
    first_chunk = asyncio.Event()

    async def slow_write(event: Event) -> None:  # a client that reads slowly
        await asyncio.sleep(0.001)
        written.append(event)
        if event.type == "audio-chunk":
            first_chunk.set()

    reply = AudioReply(slow_write, samples_per_chunk=100)
    sending = asyncio.create_task(reply.pcm(bytes(2 * 100 * 50), 16000))  # 50 chunks
    await first_chunk.wait()
    await reply.stop()  # e.g. the reply failed while a sentence's audio was being sent
    await sending
    await reply.pcm(bytes(200), 16000)  # a late sentence
    types = [e.type for e in written]
    assert types[0] == "audio-start"
    assert types[-1] == "audio-stop"
    assert types.count("audio-stop") == 1
    assert 1 <= types.count("audio-chunk") < 50
