{#-
    Ranks start at 1 and have no gaps. Plain ranks (row_number) must be exactly 1..rows;
    dense ranks (dense=true) must cover 1..max with every value present. Returns one
    failing row when the rule is broken.
-#}
{% test consecutive_ranks(model, column_name, dense=false) %}
with summary as (
    select
        min({{ column_name }}) as lowest,
        max({{ column_name }}) as highest,
        count(distinct {{ column_name }}) as distinct_ranks,
        count(*) as row_count
    from {{ model }}
)

select *
from summary
where row_count > 0
  and (
      lowest != 1
      or highest != distinct_ranks
      {% if not dense %} or distinct_ranks != row_count {% endif %}
  )
{% endtest %}
