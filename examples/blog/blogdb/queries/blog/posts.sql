-- Custom SQL on the shards of group "blog". Every query runs on one logical
-- shard, chosen by the first argument of its method (a BlogKey, or a PostID
-- or CommentID, which carry their shard). Table names are written without a
-- schema: shardgen qualifies them with the shard's schema.

-- name: MostCommented :many
-- An author's posts, most commented first: a join of posts and comments
-- inside the author's shard (comments live on their post's shard).
SELECT p.id, p.title, count(c.id) AS comments
FROM posts p
LEFT JOIN comments c ON c.post_id = p.id AND c.post_author_id = p.author_id
WHERE p.author_id = sqlc.arg(author_id)
GROUP BY p.id, p.title
ORDER BY comments DESC, p.id DESC
LIMIT sqlc.arg(top);

-- name: NewestPosts :many
-- shardgen:fanout
-- The newest posts of one shard; NewestPostsAllShards asks every shard.
SELECT id, author_id, title, created_at
FROM posts
ORDER BY created_at DESC, id DESC
LIMIT $1;
