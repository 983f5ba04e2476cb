-- The rating records processed by the latest stream.
with ratings as (
    select stream_id, tconst, average_rating, num_votes
    from {{ ref('stg_imdb__stream_ratings') }}
),

streams as (
    select stream_id from {{ ref('int_streams_summarised') }}
),

final as (
    select
        ratings.tconst,
        ratings.average_rating,
        ratings.num_votes
    from ratings
    inner join streams on ratings.stream_id = streams.stream_id
)

select * from final
