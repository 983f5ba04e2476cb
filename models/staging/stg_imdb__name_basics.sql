with source as (
    select * from {{ source('imdb_lookup', 'name_basics') }}
),

renamed as (
    select nconst, primary_name
    from source
)

select * from renamed
