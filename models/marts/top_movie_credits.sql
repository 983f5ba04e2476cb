-- The people credited in the top movies (title.principals), most credits first.
with top_movies as (
    select tconst from {{ ref('top_movies') }}
),

principals as (
    select tconst, nconst, category, tconst_bucket
    from {{ ref('stg_imdb__title_principals') }}
),

names as (
    select nconst, primary_name from {{ ref('stg_imdb__name_basics') }}
),

credits as (
    select
        principals.tconst,
        principals.nconst,
        principals.category
    from principals
    inner join top_movies
        on
            principals.tconst = top_movies.tconst
            and principals.tconst_bucket = {{ tconst_bucket('top_movies.tconst') }}
),

counted as (
    select
        nconst,
        count(*) as credit_count,
        count(distinct tconst) as movie_count,
        array_sort(collect_set(category)) as categories,
        array_sort(collect_set(tconst)) as tconsts
    from credits
    group by nconst
),

final as (
    select
        dense_rank() over (order by counted.credit_count desc) as rank,
        counted.nconst,
        names.primary_name,
        counted.credit_count,
        counted.movie_count,
        counted.categories,
        counted.tconsts
    from counted
    left join names on counted.nconst = names.nconst
)

select * from final
