"""Chunking: exact slices, size bounds, structure (pages, records, event windows), deterministic ids."""

from datetime import UTC, datetime, timedelta

from ingest.chunking import EVENT_GAP_SECONDS, EVENT_WINDOW_MAX, MAX_CHARS, chunk_blocks, chunk_id
from ingest.records import Block

T0 = datetime(2026, 1, 19, tzinfo=UTC)


def test_every_chunk_is_an_exact_slice_of_the_document_text():
    blocks = [Block(text=f"Paragraph {i}. " + "words " * (i * 40), page=1 + i // 3) for i in range(9)]
    doc, chunks = chunk_blocks(blocks)
    assert chunks
    for c in chunks:
        assert doc[c.char_start:c.char_end] == c.text
        assert len(c.text) <= MAX_CHARS


def test_prose_never_crosses_a_page():
    blocks = [Block(text="Short one.", page=1), Block(text="Short two.", page=2)]
    _, chunks = chunk_blocks(blocks)
    assert [(c.page, c.text) for c in chunks] == [(1, "Short one."), (2, "Short two.")]


def test_small_paragraphs_merge_up_to_the_target():
    _, chunks = chunk_blocks([Block(text="x" * 100, page=1) for _ in range(5)])
    assert len(chunks) == 1 and chunks[0].text.count("x") == 500


def test_a_long_block_is_cut_at_sentence_ends():
    text = " ".join(f"Sentence number {i} explains a control." for i in range(200))
    doc, chunks = chunk_blocks([Block(text=text)])
    assert len(chunks) > 1
    assert all(c.text.rstrip().endswith(".") for c in chunks[:-1])
    assert "".join(doc[c.char_start:c.char_end] for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_records_stay_whole_and_keep_their_index():
    recs = [Block(text=f"CHG{i:04d} " + "change detail " * 30, kind="record", record_index=i, section=f"CHG{i:04d}")
            for i in range(4)]
    _, chunks = chunk_blocks(recs)
    assert [(c.record_start, c.record_end, c.section) for c in chunks] == [(i, i, f"CHG{i:04d}") for i in range(4)]


def test_log_events_form_windows_bounded_by_count_and_time_gap():
    events = [Block(text=f"evt {i}", kind="event", record_index=i, line_start=i + 1, line_end=i + 1,
                    ts_start=T0 + timedelta(seconds=i), ts_end=T0 + timedelta(seconds=i))
              for i in range(EVENT_WINDOW_MAX + 5)]
    late = T0 + timedelta(seconds=EVENT_GAP_SECONDS * 3)
    events.append(Block(text="evt late", kind="event", record_index=len(events), line_start=len(events) + 1,
                        line_end=len(events) + 1, ts_start=late, ts_end=late))
    _, chunks = chunk_blocks(events)
    assert [(c.record_start, c.record_end) for c in chunks] == [
        (0, EVENT_WINDOW_MAX - 1), (EVENT_WINDOW_MAX, EVENT_WINDOW_MAX + 4), (EVENT_WINDOW_MAX + 5,) * 2]
    first = chunks[0]
    assert (first.line_start, first.line_end) == (1, EVENT_WINDOW_MAX)
    assert (first.ts_start, first.ts_end) == (T0, T0 + timedelta(seconds=EVENT_WINDOW_MAX - 1))


def test_chunk_ids_are_deterministic_and_scoped():
    a = chunk_id("t1", "abc", 0)
    assert a == chunk_id("t1", "abc", 0) and len(a) == 40
    assert len({a, chunk_id("t2", "abc", 0), chunk_id("t1", "abd", 0), chunk_id("t1", "abc", 1),
                chunk_id("t1", "abc", 0, version="chunk-v2")}) == 5
