-- The current titles of the latest stream: per tconst its latest record (feed order),
-- unless that record is a deletion (the title left a newer dump).
with ratings as (
    select stream_id, feed_row, tconst, average_rating, num_votes, is_deleted
    from {{ ref('stg_imdb__stream_ratings') }}
),

streams as (
    select stream_id from {{ ref('int_streams_summarised') }}
),

latest_first as (
    select
        ratings.tconst,
        ratings.average_rating,
        ratings.num_votes,
        ratings.is_deleted,
        row_number() over (partition by ratings.tconst order by ratings.feed_row desc) as recency
    from ratings
    inner join streams on ratings.stream_id = streams.stream_id
),

final as (
    select tconst, average_rating, num_votes
    from latest_first
    where recency = 1 and not is_deleted
)

select * from final
