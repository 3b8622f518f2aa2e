-- Custom SQL on the analytics database.

-- name: MostViewed :many
-- The most viewed posts, by number of page views.
SELECT post_id, count(*) AS views
FROM page_views
GROUP BY post_id
ORDER BY views DESC, post_id
LIMIT $1;
