"""The podcast-reviews datasets: one place for their patterns and versions."""

from databuild_assets.core import DateDim, PartitionPattern

from .sample_data import CATEGORIES

DAY = {"date": DateDim("date", start="2024-01-01")}
CAT_DAY = {"category": CATEGORIES, "date": DateDim("date", start="2024-01-01")}

PODCASTS = PartitionPattern("podcasts")
REVIEWS = PartitionPattern("reviews/date={date}", dims=DAY)
VALIDATED = PartitionPattern("validated_reviews/date={date}", dims=DAY)
DEAD_LETTERS = PartitionPattern("dead_letters/date={date}", dims=DAY)
CATEGORIZED = PartitionPattern("categorized_reviews/category={category}/date={date}",
                               dims=CAT_DAY)
SUMMARY = PartitionPattern("daily_category_summary/date={date}", dims=DAY)
PHRASES = PartitionPattern("phrase_stats/category={category}/date={date}", dims=CAT_DAY)
TRAILING = PartitionPattern("trailing_ratings/category={category}/date={date}", dims=CAT_DAY)
REPORT = PartitionPattern("podcast_report/date={date}", dims=DAY)

WINDOW_DAYS = 7
