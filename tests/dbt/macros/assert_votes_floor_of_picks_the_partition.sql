-- votes_floor_of(m) is the largest partition bound of title_ratings not above m: the
-- partition that holds the smallest numVotes `num_votes >= m` keeps (0 keeps them all).
with cases as (
    select min_votes, votes_floor, expected
    from
        values
        (0, {{ votes_floor_of(0) }}, 0),
        (99, {{ votes_floor_of(99) }}, 0),
        (100, {{ votes_floor_of(100) }}, 100),
        (500, {{ votes_floor_of(500) }}, 500),
        (999, {{ votes_floor_of(999) }}, 500),
        (1900, {{ votes_floor_of(1900) }}, 1000),
        (2000000, {{ votes_floor_of(2000000) }}, 1000000)
            as cases (min_votes, votes_floor, expected)
),

final as (
    select * from cases
    where votes_floor != expected
)

select * from final
