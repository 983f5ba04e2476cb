{#-
    A `where` condition keeping only the rows of `tconsts` in a lookup partitioned by
    tconst_bucket: the buckets and the tconsts as literals (`false` for an empty list).
-#}
{% macro lookup_rows_of(tconsts, tconst='tconst', bucket='tconst_bucket') -%}
    {%- if tconsts | length == 0 -%}
        false
    {%- else -%}
        {%- set buckets = [] -%}
        {%- for value in tconsts -%}
            {%- do buckets.append(tconst_bucket("'" ~ value ~ "'")) -%}
        {%- endfor -%}
        {{ bucket }} in ({{ buckets | join(', ') }})
        and {{ tconst }} in ({{ sql_string_list(tconsts) }})
    {%- endif -%}
{%- endmacro %}
