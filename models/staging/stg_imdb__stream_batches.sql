with source as (
    select * from {{ source('imdb_stream', 'batches') }}
),

renamed as (
    select
        stream_id,
        ingest_id,
        batch_id,
        batches,
        records,
        end_row,
        ratings_processed,
        feed_rows,
        votes_sum,
        average_number_of_votes,
        records_per_batch,
        min_votes,
        top_n,
        title_types,
        top,
        processed_at
    from source
)

select * from renamed
