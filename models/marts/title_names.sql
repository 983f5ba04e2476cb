-- Every title with the people whose knownForTitles lists it (the restructured name
-- lookup, made readable).
with title_names as (
    select tconst, known_for from {{ ref('stg_imdb__title_names') }}
),

titles as (
    select tconst, title_type, primary_title from {{ ref('stg_imdb__title_basics') }}
),

final as (
    select
        title_names.tconst,
        titles.title_type,
        titles.primary_title,
        transform(title_names.known_for, person -> person.nconst) as known_for_nconsts,
        transform(title_names.known_for, person -> person.primary_name) as known_for_names
    from title_names
    left join titles on title_names.tconst = titles.tconst
)

select * from final
