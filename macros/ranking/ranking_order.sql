{#-
    The ranking order, for `order by` and window specs. The average is one positive
    constant, so ranking_score orders exactly like numVotes x averageRating, which is an
    exact decimal (int x decimal(3,1)): floating-point noise never decides a tie. Ties go
    to more numVotes, then to the smaller tconst.
-#}
{% macro ranking_order(num_votes, average_rating, tconst) -%}
    {{ return(adapter.dispatch('ranking_order')(num_votes, average_rating, tconst)) }}
{%- endmacro %}

{% macro default__ranking_order(num_votes, average_rating, tconst) -%}
    cast({{ num_votes }} as decimal(12, 0)) * cast({{ average_rating }} as decimal(3, 1)) desc,
    {{ num_votes }} desc,
    {{ tconst }} asc
{%- endmacro %}
