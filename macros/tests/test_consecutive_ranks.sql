{#-
    Ranks start at 1 and have no gaps, and none is null. Plain ranks (row_number) must be
    exactly 1..rows, so they are also unique; dense ranks (dense=true) must cover 1..max with
    every value present. With max_rank, no rank may exceed it (for plain ranks: at most
    max_rank rows). Returns one failing row when a rule is broken.
-#}
{% test consecutive_ranks(model, column_name, dense=false, max_rank=none) %}
with summary as (
    select
        min({{ column_name }}) as lowest,
        max({{ column_name }}) as highest,
        count(distinct {{ column_name }}) as distinct_ranks,
        count({{ column_name }}) as ranked_rows,
        count(*) as row_count
    from {{ model }}
)

select *
from summary
where
    row_count > 0
    and (
        ranked_rows != row_count
        or lowest != 1
        or highest != distinct_ranks
        {% if not dense %}or distinct_ranks != row_count{% endif %}  -- noqa: LT02
        {% if max_rank is not none %}or highest > {{ max_rank }}{% endif %}
    )
{% endtest %}
