with source as (
    select * from {{ source('imdb_stream', 'ratings') }}
),

renamed as (
    select
        stream_id,
        ingest_id,
        batch_id,
        feed_row,
        tconst,
        average_rating,
        num_votes,
        is_deleted,
        previous_votes
    from source
)

select * from renamed
