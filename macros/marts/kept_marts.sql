{#-
    Keeping a mart on a refresh. top_movie_credits and top_movie_titles read, of the large
    lookups, only the rows of the top movies, and a refresh seldom changes the top movies or
    the files those lookups come from (the ingest keeps an unchanged file's lookup). When a
    mart's inputs are those its current rows were built from, the build copies the rows from
    that version of the table with this build's invocation_id instead of reading the lookups
    again (each mart's node 14-18 s in a refresh at IMDb's full size, 5-6 s kept).

    The inputs, hashed into one key:
      * the top movies: tconst, primary_title and original_title (ref('top_movies'));
      * for each lookup the mart reads, the ingest whose conversion wrote its rows
        (converted_in in stg_imdb__ingest_checks; null when not known: no key);
      * var('build_fingerprint'): the dbt project's files, the vars, the target and the dbt,
        dbt-spark and pyspark versions, which `imdb-pipeline transform` passes. Without it (dbt
        typed by hand) there is no key and the mart is always computed.
    The key is recorded on the table by the model's post-hook (record_inputs_key), as the
    table property imdb.inputs_key, in a commit of its own after the rows. A mart is kept only
    when its latest commit is that property change with the same key: a build stopped between
    the rows and the property leaves a table that is computed again.
-#}
{#-
    What a kept mart's model starts with: {'key': mart_inputs_key(...), 'version':
    kept_version(key), 'key_line': the `-- inputs_key: <key>` line record_inputs_key reads from
    the compiled SQL (empty without a key)}. The model selects from `this` at 'version' when
    it is not none, and computes its rows otherwise.
-#}
{% macro kept_mart(top_movies, ingest_checks, lookup_tables) -%}
    {%- set key = mart_inputs_key(top_movies, ingest_checks, lookup_tables) -%}
    {{ return({
        'key': key,
        'version': kept_version(key),
        'key_line': '' if key is none else '-- inputs_key: ' ~ key,
    }) }}
{%- endmacro %}

{% macro mart_inputs_key(top_movies, ingest_checks, lookup_tables) -%}
    {%- set fingerprint = var('build_fingerprint', none) -%}
    {%- if not execute or fingerprint is none or model.resource_type == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set top = run_query(
        'select tconst, primary_title, original_title from ' ~ top_movies ~ ' order by tconst'
    ) -%}
    {%- set converted = run_query(
        'select lookup_table, converted_in from ' ~ ingest_checks
        ~ ' where lookup_table in (' ~ sql_string_list(lookup_tables) ~ ') order by lookup_table'
    ) -%}
    {%- set found = converted.columns['converted_in'].values() | reject('none') | list -%}
    {%- if found | length != lookup_tables | length -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parts = [fingerprint] -%}
    {%- for row in top.rows -%}
        {%- do parts.append(row | join('\t')) -%}
    {%- endfor -%}
    {%- for row in converted.rows -%}
        {%- do parts.append(row | join('=')) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}

{#-
    The version of `this` whose rows were built from `key` (mart_inputs_key), or none: the
    table's latest commit must be the property change that recorded that key. Logs
    `dbt: <mart>: kept from version N` when there is one.
-#}
{% macro kept_version(key) -%}
    {%- if key is none or adapter.get_relation(this.database, this.schema, this.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = run_query('show tblproperties ' ~ this ~ " ('imdb.inputs_key')") -%}
    {%- if recorded.columns['value'].values() | list != [key] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = run_query('describe history ' ~ this ~ ' limit 1') -%}
    {%- if latest.columns['operation'].values() | list != ['SET TBLPROPERTIES'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set version = latest.columns['version'].values()[0] | int -%}
    {{ log('dbt: ' ~ this.identifier ~ ': kept from version ' ~ version ~ ' (the same top movies, lookups and code)', info=true) }}
    {{ return(version) }}
{%- endmacro %}

{#-
    The post-hook of a kept mart: record the key the model was compiled with (its
    `-- inputs_key:` line) as the table property imdb.inputs_key. Nothing without a key.
-#}
{% macro record_inputs_key() -%}
    {%- set found = modules.re.search('^-- inputs_key: ([0-9a-f]{32})$', model.compiled_code or '', modules.re.M) -%}
    {%- if found -%}
        alter table {{ this }} set tblproperties ('imdb.inputs_key' = '{{ found.group(1) }}')
    {%- endif -%}
{%- endmacro %}
