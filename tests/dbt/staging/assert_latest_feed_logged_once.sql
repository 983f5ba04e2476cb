-- The latest stream logged every record of its latest feed exactly once: its micro-batches
-- of that feed have consecutive batch ids, their records are the feed rows
-- [first record, last end_row) without a gap or a repeat, every record names a title, and
-- no record lies past the last micro-batch. Only that feed is read (data skipping on
-- stream_id, ingest_id and batch_id), so the test does not grow with the stream's history;
-- each earlier feed was checked when it was the latest.
-- The latest stream comes from run_summary, not int_streams_summarised: dbt build holds a
-- model back for a test only when every node the test reads is upstream of that model, so
-- reading a mart keeps this check (19 s at IMDb's full size) off the path to the ranking.
-- A failure still stops the publish: the on-run-end hook publishes nothing after a failed
-- test.
with latest as (
    select stream_id, ingest_id from {{ ref('run_summary') }}
),

feed_batches as (
    select
        batches.batch_id,
        batches.batches,
        batches.records,
        batches.end_row
    from {{ ref('stg_imdb__stream_batches') }} as batches
    inner join latest
        on batches.stream_id = latest.stream_id and batches.ingest_id = latest.ingest_id
),

feed as (
    select
        min(batch_id) as first_batch,
        max(batch_id) as last_batch,
        count(*) as batch_rows,
        count(distinct batch_id) as batch_ids,
        max(batches) - min(batches) + 1 as batch_span,
        min(end_row - records) as first_row,
        max(end_row) as end_row,
        sum(records) as records
    from feed_batches
),

logged as (
    select
        count(*) as log_rows,
        count(distinct ratings.feed_row) as logged_feed_rows,
        min(ratings.feed_row) as logged_first_row,
        max(ratings.feed_row) as logged_last_row,
        count(ratings.tconst) as named_rows
    from {{ ref('stg_imdb__stream_ratings') }} as ratings
    inner join latest on ratings.stream_id = latest.stream_id
    cross join feed
    where ratings.batch_id >= feed.first_batch
),

final as (
    select feed.*, logged.*
    from feed
    cross join logged
    where
        feed.batch_rows > 0
        and (
            feed.batch_ids != feed.batch_rows
            or feed.last_batch - feed.first_batch + 1 != feed.batch_rows
            or feed.batch_span != feed.batch_rows
            or feed.records != feed.end_row - feed.first_row
            or logged.log_rows != feed.records
            or logged.logged_feed_rows != feed.records
            or logged.logged_first_row != feed.first_row
            or logged.logged_last_row != feed.end_row - 1
            or logged.named_rows != logged.log_rows
        )
)

select * from final
