-- one date per run (var 'date'); delete+insert on review_date makes reruns idempotent
select
    r.review_id,
    r.podcast_id,
    p.category,
    r.author_id,
    r.rating,
    r.title,
    r.content,
    r.created_at,
    r.review_date
from {{ ref('stg_reviews') }} r
join {{ source('databuild', 'podcasts') }} p on p.podcast_id = r.podcast_id
where r.review_date between cast('{{ env_var("DATABUILD_DBT_DATE_FROM", var("date_from", var("date"))) }}' as date) and cast('{{ env_var("DATABUILD_DBT_DATE_TO", var("date_to", var("date"))) }}' as date)
