{#-
    The on-run-end hook: publish the marts of one answer together, or not at all.

    The answer's marts (the tables of the marts folder) are built and tested in
    the candidate schema imdb_candidate (dbt_project.yml). When this invocation built every one of
    them and no node failed
    (a `warn` is no failure), each is copied into var('answer_schema') as a Delta table,
    run_summary last, where SQL clients and `imdb-pipeline results` read them; otherwise the
    published answer stays as it was. A kept mart's copy records the inputs key of its
    compiled SQL (inputs_key_of) as the table property imdb.inputs_key, in the same commit as
    its rows: the next build keeps the mart from that version when the key is the same
    (macros/marts/kept_mart.sql). Either way one row goes to <answer_schema>.transform_runs
    (the vars asked for, what happened), so `results` can tell whether the published answer is
    the one asked for last. An invocation that built none of the answer's marts (`dbt test`, `dbt seed`)
    publishes and records nothing.
-#}
{% macro publish_answer(results) %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set answer = answer_marts() -%}
    {%- set built, failed, attempted, keys = [], [], [], {} -%}
    {%- for result in results -%}
        {%- if result.node.unique_id in answer -%}
            {%- do attempted.append(result.node.name) -%}
            {%- set key = inputs_key_of(result.node.compiled_code) -%}
            {%- do keys.update({result.node.unique_id: key}) -%}
            {%- if result.status == 'success' -%}
                {%- do built.append(result.node.name) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if result.status in ['error', 'fail', 'runtime error'] -%}
            {%- do failed.append(result.node.name ~ ' (' ~ result.status ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not attempted -%}
        {{ return('') }}
    {%- endif -%}
    {%- set missing = answer.values() | reject('in', built) | list -%}
    {%- if failed or missing -%}
        {%- set status = 'failed' if failed else 'not published' -%}
        {%- set detail = (failed | join(', ')) if failed else 'not built: ' ~ (missing | join(', ')) -%}
        {{ log('publish: the answer was not published (' ~ detail ~ '); ' ~ var('answer_schema') ~ ' keeps the previous one', info=true) }}
    {%- else -%}
        {%- set status, detail = 'published', '' -%}
        {%- do run_query('create schema if not exists ' ~ var('answer_schema')) -%}
        {%- set ordered = [] -%}
        {%- for unique_id, name in answer | dictsort(by='value') -%}
            {%- do ordered.append(unique_id) if name != 'run_summary' -%}
        {%- endfor -%}
        {%- for unique_id, name in answer.items() -%}
            {%- do ordered.append(unique_id) if name == 'run_summary' -%}
        {%- endfor -%}
        {%- for unique_id in ordered -%}
            {%- set node = graph.nodes[unique_id] -%}
            {%- set key = keys.get(unique_id) -%}
            {%- do run_query(
                'create or replace table ' ~ var('answer_schema') ~ '.' ~ node.name ~ ' using delta'
                ~ ' comment ' ~ "'" ~ node.description | replace("\\", "\\\\") | replace("'", "\\'") ~ "'"
                ~ ((" tblproperties ('imdb.inputs_key' = '" ~ key ~ "')") if key else '')
                ~ ' as select * from ' ~ node.schema ~ '.' ~ node.alias
            ) -%}
        {%- endfor -%}
        {%- set published = answer.values() | sort | join(', ') -%}
        {{ log('publish: ' ~ published ~ ' published in ' ~ var('answer_schema'), info=true) }}
    {%- endif -%}
    {%- do record_transform_run(status, detail) -%}
{% endmacro %}

{#- unique_id -> name of the answer's marts: the models of the marts folder built as tables. -#}
{% macro answer_marts() %}
    {%- set marts = {} -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name
              and node.fqn[1] == 'marts' and node.config.materialized == 'table' -%}
            {%- do marts.update({node.unique_id: node.name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(marts) }}
{% endmacro %}

{#-
    One row in <answer_schema>.transform_runs: this invocation, the vars it was asked for,
    what happened.
-#}
{% macro record_transform_run(status, detail) %}
    {%- set table = var('answer_schema') ~ '.transform_runs' -%}
    {%- do run_query('create schema if not exists ' ~ var('answer_schema')) -%}
    {%- do run_query(
        'create table if not exists ' ~ table ~ ' (invocation_id string, command string,'
        ~ ' finished_at timestamp, min_votes int, top_n int, title_types array<string>,'
        ~ ' status string, detail string) using delta'
    ) -%}
    {%- do run_query(
        'insert into ' ~ table ~ ' select'
        ~ " '" ~ invocation_id ~ "', '" ~ flags.WHICH ~ "', current_timestamp(),"
        ~ ' ' ~ var('min_votes') ~ ', ' ~ var('top_n') ~ ','
        ~ ' array(' ~ sql_string_list(var('title_types') | sort) ~ '),'
        ~ " '" ~ status ~ "', '" ~ detail | replace("\\", "\\\\") | replace("'", "\\'") ~ "'"
    ) -%}
{% endmacro %}
