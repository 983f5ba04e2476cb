{#-
    The post-hook of a kept mart: record the key the model was compiled with (its
    `-- inputs_key:` line) as the table property imdb.inputs_key. Nothing without a key.
-#}
{% macro record_inputs_key() -%}
    {%- set found = modules.re.search(
        '^-- inputs_key: ([0-9a-f]{32})$', model.compiled_code or '', modules.re.M
    ) -%}
    {%- if found -%}
        alter table {{ this }} set tblproperties ('imdb.inputs_key' = '{{ found.group(1) }}')
    {%- endif -%}
{%- endmacro %}
