"""RFC 6587 framing of syslog over TCP: octet counting and newline (LF) framing, decided per frame.

A frame that starts with `LEN SP` (LEN: 1-9 digits, no leading zero) is octet-counted: the next LEN
bytes are the message. Anything else runs to the next LF (a trailing CR or NUL is dropped; empty
frames are ignored). A frame longer than `max_frame_bytes` is skipped — an octet-counted one by
discarding LEN bytes as they arrive, a newline one up to its LF — and counted in `oversized`; the
stream goes on with the next frame. Memory stays under about `max_frame_bytes` plus one read.
"""

from __future__ import annotations

_DIGITS = b"0123456789"
_MAX_COUNT_DIGITS = 9


class FrameDecoder:
    """Splits one TCP stream into syslog frames; feed it each read, in order."""

    def __init__(self, max_frame_bytes: int) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be at least 1")
        self.max_frame_bytes = max_frame_bytes
        self.oversized = 0
        self._buffer = b""
        self._skip = 0  # bytes of an oversized octet-counted frame still to discard
        self._skip_line = False  # discarding an oversized newline frame up to its LF

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by `data`."""
        frames: list[bytes] = []
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return frames
            data = data[self._skip:]
            self._skip = 0
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        size = len(buffer)
        limit = self.max_frame_bytes
        while pos < size:
            if self._skip_line:
                newline = buffer.find(b"\n", pos)
                if newline < 0:
                    pos = size
                    break
                self._skip_line = False
                pos = newline + 1
                continue
            first = buffer[pos]
            if 49 <= first <= 57:  # "1".."9": perhaps an octet count
                end = pos + 1
                while end < size and end - pos <= _MAX_COUNT_DIGITS and buffer[end] in _DIGITS:
                    end += 1
                if end == size and end - pos <= _MAX_COUNT_DIGITS:
                    break  # the count may go on in the next read
                if end < size and buffer[end] == 32 and end - pos <= _MAX_COUNT_DIGITS:  # "LEN SP"
                    length = int(buffer[pos:end])
                    start = end + 1
                    if length > limit:
                        self.oversized += 1
                        available = size - start
                        if available >= length:
                            pos = start + length
                            continue
                        self._skip = length - available
                        pos = size
                        break
                    if size - start < length:
                        break  # wait for the rest of the frame
                    frame = buffer[start:start + length]
                    pos = start + length
                    if frame:
                        frames.append(frame)
                    continue
            newline = buffer.find(b"\n", pos)
            if newline < 0:
                if size - pos > limit:
                    self.oversized += 1
                    self._skip_line = True
                    pos = size
                break
            frame = buffer[pos:newline].rstrip(b"\r\0")
            pos = newline + 1
            if len(frame) > limit:
                self.oversized += 1
            elif frame:
                frames.append(frame)
        self._buffer = buffer[pos:] if pos < size else b""
        return frames

    def finish(self) -> list[bytes]:
        """At the end of the stream: what is left as a last frame (a newline frame without its LF;
        a truncated octet-counted frame, count included, which its parser then refuses)."""
        rest, self._buffer = self._buffer, b""
        if self._skip or self._skip_line:
            self._skip, self._skip_line = 0, False
            return []
        frame = rest.rstrip(b"\r\n\0")
        if not frame:
            return []
        if len(frame) > self.max_frame_bytes:
            self.oversized += 1
            return []
        return [frame]
