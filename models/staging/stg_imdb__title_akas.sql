with source as (
    select * from {{ source('imdb_lookup', 'title_akas') }}
),

renamed as (
    select tconst, ordering, title, region, language, tconst_bucket
    from source
)

select * from renamed
