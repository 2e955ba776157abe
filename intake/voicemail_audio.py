"""Voicemail recordings: PCM WAV only, rewritten so that nothing but the sound survives.

A WAV file can carry LIST/INFO, bext or iXML chunks (recorder name, station, times, in
some PBXs the calling number). The recording is read with the stdlib ``wave`` module and
written again with only its format and samples. Asterisk records PCM WAV with
``format=wav`` (docs/phone-and-mail.md); GSM-in-WAV (``wav49``) is refused with a clear
message rather than stored unchecked.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

from core.errors import InvalidInput


@dataclass(frozen=True)
class Recording:
    wav: bytes
    seconds: float


def clean_recording(data: bytes) -> Recording:
    """Return the recording as a minimal PCM WAV, or raise InvalidInput."""
    try:
        with wave.open(io.BytesIO(data), "rb") as source:
            params = source.getparams()
            frames = source.readframes(params.nframes)
    except (wave.Error, EOFError, ValueError) as exc:
        raise InvalidInput(
            "录音必须是 PCM 编码的 WAV 文件（Asterisk：format=wav）。",
            code="unsupported_audio",
            status=415,
        ) from exc
    if not frames or params.framerate <= 0:
        raise InvalidInput("录音为空。", code="empty_recording")
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(params.nchannels)
        target.setsampwidth(params.sampwidth)
        target.setframerate(params.framerate)
        target.writeframes(frames)
    frame_count = len(frames) // (params.nchannels * params.sampwidth)
    return Recording(out.getvalue(), frame_count / params.framerate)
