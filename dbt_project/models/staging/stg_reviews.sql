select
    cast(review_id as varchar(64)) as review_id,
    cast(podcast_id as varchar(64)) as podcast_id,
    cast(author_id as varchar(64)) as author_id,
    cast(rating as integer) as rating,
    title,
    content,
    cast(created_at as timestamp) as created_at,
    cast(cast(created_at as timestamp) as date) as review_date
from {{ source('databuild', 'validated_reviews') }}
