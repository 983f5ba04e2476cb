with source as (
    select * from {{ source('imdb_lookup', 'title_basics') }}
),

renamed as (
    select tconst, title_type, primary_title, original_title, start_year
    from source
)

select * from renamed
