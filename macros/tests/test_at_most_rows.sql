{#- Fails when the model holds more than max_rows rows (a top-N holds at most N). -#}
{% test at_most_rows(model, max_rows) %}
select count(*) as row_count
from {{ model }}
having count(*) > {{ max_rows }}
{% endtest %}
