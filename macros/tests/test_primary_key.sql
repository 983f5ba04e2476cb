{#-
    The grain of a model in one query: fails for every key value that is null or occurs more
    than once (what `unique` plus `not_null` check in two). A column test, or a model test
    with `columns` for a composite key.
-#}
{% test primary_key(model, column_name=none, columns=none) %}
{%- set key = columns if columns else [column_name] -%}
with keys as (
    select
        {{ key | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ key | join(', ') }}
)

select *
from keys
where
    occurrences > 1
    {% for column in key %}
    or {{ column }} is null
    {% endfor %}
{% endtest %}
