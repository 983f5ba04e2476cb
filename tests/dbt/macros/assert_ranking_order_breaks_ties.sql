-- The ranking_order macro over literal rows: equal exact weights (1000 x 7.3 = 730 x 10.0)
-- go to more votes, equal weight and votes to the smaller tconst, and floating-point noise
-- in the division (730 / 1000.0 * 10.0 vs 1000 / 1000.0 * 7.3) decides nothing.
with literal_rows as (
    select tconst, num_votes, average_rating, expected_rank
    from
        values
        ('tt0000003', 1000, cast(7.3 as decimal(3, 1)), 2),
        ('tt0000002', 730, cast(10.0 as decimal(3, 1)), 3),
        ('tt0000001', 1000, cast(7.3 as decimal(3, 1)), 1),
        ('tt0000009', 2000, cast(1.0 as decimal(3, 1)), 4)
            as literal_rows (tconst, num_votes, average_rating, expected_rank)
),

ranked as (
    select
        *,
        row_number()
            over (order by {{ ranking_order('num_votes', 'average_rating', 'tconst') }})
            as actual_rank
    from literal_rows
)

select * from ranked
where actual_rank != expected_rank
