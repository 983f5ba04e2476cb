-- averageNumberOfVotes kept by the stream equals the mean numVotes of the rating records
-- it landed (every record counts once: no replayed micro-batch was written twice).
with summary as (
    select ratings_processed, average_number_of_votes from {{ ref('run_summary') }}
),

landed as (
    select count(*) as records, avg(num_votes) as average_number_of_votes
    from {{ ref('int_ratings_streamed') }}
),

final as (
    select summary.*, landed.records, landed.average_number_of_votes as landed_average
    from summary
    cross join landed
    where
        summary.ratings_processed != landed.records
        or abs(summary.average_number_of_votes - landed.average_number_of_votes) > 1e-6
)

select * from final
