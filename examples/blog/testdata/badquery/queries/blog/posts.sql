-- name: PostsWithAuthors :many
-- Posts with their author's e-mail address.
SELECT p.id, p.title, u.email
FROM posts p
JOIN users u ON u.id = p.author_id
WHERE p.author_id = $1;
