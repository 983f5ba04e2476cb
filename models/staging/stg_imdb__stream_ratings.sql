with source as (
    select * from {{ source('imdb_stream', 'ratings') }}
),

renamed as (
    select
        stream_id,
        batch_id,
        tconst,
        average_rating,
        num_votes
    from source
)

select * from renamed
