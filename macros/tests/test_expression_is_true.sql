{#-
    Fails for every row where the boolean SQL expression is not true (false or null), so
    `x is not null and x >= 1` states a column's rules in one query instead of one per rule.
-#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
