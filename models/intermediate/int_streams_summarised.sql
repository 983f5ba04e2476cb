-- The latest stream and its running statistics after its last micro-batch: one row
-- (none before the first stream).
with batches as (
    select
        stream_id,
        ingest_id,
        batch_id,
        batches,
        end_row,
        ratings_processed,
        feed_rows,
        votes_sum,
        average_number_of_votes,
        records_per_batch,
        processed_at
    from {{ ref('stg_imdb__stream_batches') }}
),

last_batches as (
    select
        *,
        row_number() over (partition by stream_id order by batch_id desc) as batch_recency
    from batches
),

streams_ordered as (
    select
        *,
        row_number() over (order by processed_at desc, stream_id desc) as stream_recency
    from last_batches
    where batch_recency = 1
),

final as (
    select
        stream_id,
        ingest_id,
        batches,
        ratings_processed,
        feed_rows,
        end_row = feed_rows as is_complete,
        votes_sum,
        average_number_of_votes,
        records_per_batch,
        processed_at as last_batch_at
    from streams_ordered
    where stream_recency = 1
)

select * from final
