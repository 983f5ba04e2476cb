{#-
    The weighted rating of the plan: (numVotes / averageNumberOfVotes) * averageRating.
    For display; order with ranking_order(), which gives the same order exactly.
-#}
{% macro ranking_score(num_votes, average_rating, average_number_of_votes) -%}
    {%- set dispatched = adapter.dispatch('ranking_score') -%}
    {{ return(dispatched(num_votes, average_rating, average_number_of_votes)) }}
{%- endmacro %}

{% macro default__ranking_score(num_votes, average_rating, average_number_of_votes) -%}
    cast({{ num_votes }} as double) / {{ average_number_of_votes }} * cast({{ average_rating }} as double)
{%- endmacro %}
