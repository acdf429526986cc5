"""RFC 6587 framing: octet counting and LF framing per frame, split reads, oversized frames."""

from __future__ import annotations

import pytest

from connector.flows.syslog import FrameDecoder


def feed_all(decoder: FrameDecoder, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    return frames + decoder.finish()


def test_octet_counting() -> None:
    decoder = FrameDecoder(100)
    assert decoder.feed(b"5 hello11 hello world") == [b"hello", b"hello world"]


def test_newline_framing_drops_cr_and_nul_and_empty_frames() -> None:
    decoder = FrameDecoder(100)
    assert decoder.feed(b"<13>one\r\n\n<13>two\0\n<13>thr") == [b"<13>one", b"<13>two"]
    assert decoder.feed(b"ee\n") == [b"<13>three"]


def test_mixed_framing_decided_per_frame() -> None:
    decoder = FrameDecoder(100)
    data = b"<14>lf frame\n9 <14>octet<14>lf again\n2026-01-01T00:00:00Z relay line\n"
    assert decoder.feed(data) == [b"<14>lf frame", b"<14>octet", b"<14>lf again",
                                  b"2026-01-01T00:00:00Z relay line"]


def test_an_octet_counted_frame_may_hold_a_newline_and_be_followed_by_one() -> None:
    decoder = FrameDecoder(100)
    assert decoder.feed(b"7 a\nb\nc d\n4 next") == [b"a\nb\nc d", b"next"]


@pytest.mark.parametrize("split_at", range(1, 27))
def test_frames_split_across_reads_at_every_byte(split_at: int) -> None:
    data = b"12 <13>message1<13>second line\n"
    decoder = FrameDecoder(100)
    assert feed_all(decoder, [data[:split_at], data[split_at:]]) == [b"<13>message1", b"<13>second line"]


def test_one_byte_reads() -> None:
    data = b"3 abc10 0123456789x y\n7 1234567"
    decoder = FrameDecoder(100)
    assert feed_all(decoder, [bytes([byte]) for byte in data]) == [
        b"abc", b"0123456789", b"x y", b"1234567"]


def test_oversized_octet_frame_is_skipped_across_reads_and_counted() -> None:
    decoder = FrameDecoder(10)
    frames = feed_all(decoder, [b"5 first25 aaaaaaaa", b"aaaaaaaaaaaaaaaaa", b"4 last"])
    assert frames == [b"first", b"last"]
    assert decoder.oversized == 1


def test_oversized_newline_frame_is_skipped_up_to_its_lf() -> None:
    decoder = FrameDecoder(10)
    frames = feed_all(decoder, [b"<1>short\n<1>" + b"x" * 30, b"y" * 30, b"z\n<1>after\n",
                                b"<1>" + b"w" * 20 + b"\n"])
    assert frames == [b"<1>short", b"<1>after"]
    assert decoder.oversized == 2


def test_memory_stays_bounded_on_endless_garbage() -> None:
    decoder = FrameDecoder(100)
    for _ in range(1000):
        assert decoder.feed(b"g" * 1000) == []
    assert decoder.oversized == 1
    assert len(decoder._buffer) <= 100
    assert decoder.feed(b"\n<1>recovered\n") == [b"<1>recovered"]


def test_digits_that_are_not_a_count_are_a_newline_frame() -> None:
    decoder = FrameDecoder(100)
    assert decoder.feed(b"1234567890123 too many digits\n0 zero\n") == [
        b"1234567890123 too many digits", b"0 zero"]


def test_unterminated_last_frame_at_end_of_stream() -> None:
    decoder = FrameDecoder(5)
    assert decoder.feed(b"<1>ok") == []
    assert decoder.finish() == [b"<1>ok"]
    assert decoder.feed(b"4 ab") == []
    assert decoder.finish() == [b"4 ab"]  # a short octet-counted frame at EOF is kept as is
