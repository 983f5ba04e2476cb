{#-
    dbt-spark's spark__tblproperties_clause (the `tblproperties (...)` of a model's CREATE TABLE
    AS SELECT), overridden here to add, on a kept mart, the property imdb.inputs_key: the key
    of the model's compiled `-- inputs_key:` line (kept_mart.sql), or 'none' when it has no key
    (dbt typed by hand). The key is so committed with the rows, in one Delta commit: a build
    that stops before it leaves the table as it was, and a table rebuilt without a key holds
    'none', which no key matches. Any other node gets dbt-spark's clause unchanged.
-#}
{% macro spark__tblproperties_clause() -%}
    {%- set properties = dict(config.get('tblproperties') or {}) -%}
    {%- set found = modules.re.search(
        '^-- inputs_key: ([0-9a-f]{32}|none)$', model.compiled_code or '', modules.re.M
    ) -%}
    {%- if found -%}
        {%- do properties.update({'imdb.inputs_key': found.group(1)}) -%}
    {%- endif -%}
    {%- set pairs = [] -%}
    {%- for name, value in properties.items() -%}
        {%- do pairs.append("'" ~ name ~ "' = '" ~ value ~ "'") -%}
    {%- endfor -%}
    {{ ('tblproperties (' ~ pairs | join(', ') ~ ')') if pairs else '' }}
{%- endmacro %}
