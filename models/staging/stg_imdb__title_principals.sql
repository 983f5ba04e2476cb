with source as (
    select * from {{ source('imdb_lookup', 'title_principals') }}
),

renamed as (
    select tconst, ordering, nconst, category, tconst_bucket
    from source
)

select * from renamed
