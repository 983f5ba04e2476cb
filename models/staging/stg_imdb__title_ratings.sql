with source as (
    select * from {{ source('imdb_lookup', 'title_ratings') }}
),

renamed as (
    select tconst, average_rating, num_votes, votes_floor
    from source
)

select * from renamed
