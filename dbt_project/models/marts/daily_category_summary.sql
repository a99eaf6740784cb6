select
    review_date,
    category,
    count(*) as n_reviews,
    avg(rating * 1.0) as avg_rating,
    sum(case when rating = 5 then 1 else 0 end) as n_five_star
from {{ ref('categorized_reviews') }}
where review_date between cast('{{ env_var("DATABUILD_DBT_DATE_FROM", var("date_from", var("date"))) }}' as date) and cast('{{ env_var("DATABUILD_DBT_DATE_TO", var("date_to", var("date"))) }}' as date)
group by review_date, category
