{#-
    Render a list of strings as a SQL list literal body:
    ['movie', 'tvMovie'] -> 'movie', 'tvMovie'.
-#}
{% macro sql_string_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}
