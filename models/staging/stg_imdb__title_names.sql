with source as (
    select * from {{ source('imdb_lookup', 'title_names') }}
),

renamed as (
    select tconst, known_for, tconst_bucket
    from source
)

select * from renamed
